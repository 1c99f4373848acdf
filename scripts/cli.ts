/** What every `npm run` script does with its command line before its own work: `--help`, and unknown options. */

/**
 * Answers `--help` (or `-h`) with the usage on stdout, exit code 0, and an option not in `options` with the usage on
 * stderr, exit code 2. Returns true when it answered, so the command stops there. Without `options`, any option passes.
 */
export function answeredHelp(argv: string[], usage: string, options?: string[]): boolean {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exitCode = 0;
    return true;
  }
  const unknown = options && argv.find((a) => a.startsWith("-") && !options.includes(a.split("=")[0]));
  if (!unknown) return false;
  process.stderr.write(`unknown option ${unknown}\n${usage.trimEnd()}\n`);
  process.exitCode = 2;
  return true;
}

/** The value after `name` (`--out file`) or in `name=value`; undefined when absent. */
export function optionValue(argv: string[], name: string): string | undefined {
  const inline = argv.find((a) => a.startsWith(`${name}=`));
  if (inline) return inline.slice(name.length + 1);
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined && !argv[i + 1].startsWith("-") ? argv[i + 1] : undefined;
}

/** The arguments that are not options nor the values of `valued` options. */
export function positionals(argv: string[], valued: string[] = []): string[] {
  return argv.filter((a, i) => !a.startsWith("-") && !valued.includes(argv[i - 1]));
}
