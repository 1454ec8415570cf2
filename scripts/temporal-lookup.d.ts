/** Types of `scripts/temporal-lookup.js` (plain JavaScript: it runs before any package is installed). */
export declare function executable(path: string): boolean;
export declare function fileName(name: string): string;
export declare function findBinary(name: string, envVar: string): { path: string; from: string } | undefined;
export declare function prefixBinDirs(): string[];
export declare const prefix: string;
export declare const root: string;
