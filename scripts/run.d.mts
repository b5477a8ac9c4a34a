/** Types of scripts/run.mjs (the compiled-script launcher) for the tests. */
export function sourceFiles(base?: string): string[];
export function sourceHash(files: readonly string[], base?: string, compiler?: string): string;
export function statKey(files: readonly string[], base?: string, compiler?: string): { key: string; newest: number };
