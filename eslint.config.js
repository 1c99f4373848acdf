// Lints the APPSYNC_JS resolvers with AppSync's own rules: the runtime rejects much that plain JavaScript allows.
const appsync = require("@aws-appsync/eslint-plugin");

module.exports = [
  {
    ...appsync.configs.recommended,
    files: ["graphql/resolvers/*.js"],
    languageOptions: {
      ...appsync.configs.recommended.languageOptions,
      // The recommended rules (no recursion, only supported built-ins) need type information; the resolvers are not in tsconfig.
      parserOptions: { projectService: { allowDefaultProject: ["graphql/resolvers/*.js"] }, tsconfigRootDir: __dirname },
    },
  },
];
