// Placeholder until the runtime lands (issue 3): lets the stacks bundle.
export const handler = async (): Promise<void> => {
  throw new Error("not implemented");
};
