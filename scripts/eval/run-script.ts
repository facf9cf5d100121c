// The eval scripts' entry: a failure is printed with its stack and ends the process with code 1.
export function runScript(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${name}: ${(err as Error).stack}`);
      process.exit(1);
    },
  );
}
