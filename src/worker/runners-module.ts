/**
 * Loads a runners module, whatever kind the user wrote: CommonJS, ESM (top-level await too) or
 * TypeScript. Its default export (for CommonJS, `module.exports`) maps runner names to step runners.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StepRunner } from '../shared/types';

/** A runners module that cannot be used; the message names the module and the cause. */
export class RunnersModuleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunnersModuleError';
  }
}

const TYPESCRIPT = /\.(?:c|m)?tsx?$/;

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
  return `${name}${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Lets `import()` load TypeScript, by registering tsx's hooks for ESM and CommonJS once. They are
 * global, not tsx's scoped `tsImport`: that one keeps a module cache of its own, so the runners
 * would get a second copy of every package (the Temporal SDK among them). Running from the
 * sources, tsx is registered already and registering again is harmless.
 */
function registerTypeScript(): Promise<void> {
  tsxRegistered ??= (async () => {
    try {
      (require('tsx/cjs/api') as { register(): unknown }).register();
      // The ESM build: tsx 4.23's CommonJS build of this API registers its loader from a wrong path.
      ((await import('tsx/esm/api')) as { register(): unknown }).register();
    } catch (err) {
      tsxRegistered = undefined;
      throw new Error(`loading TypeScript needs the tsx package (npm install tsx): ${describeError(err)}`, {
        cause: err,
      });
    }
  })();
  return tsxRegistered;
}

/**
 * The runners object inside a module namespace. `import()` of CommonJS gives `{ default:
 * module.exports }`, and CommonJS compiled from TypeScript or Babel puts its default export one
 * level further down. (A runner may be named `default`, but it is a function, not an object.)
 */
function runnersOf(namespace: unknown): unknown {
  let value = (namespace as { default?: unknown }).default ?? namespace;
  const inner = (value as { default?: unknown } | null)?.default;
  if (inner !== null && typeof inner === 'object') value = inner;
  return value;
}

/** Loads and checks a runners module; throws `RunnersModuleError` naming the module and the cause. */
export async function loadRunnersModule(modulePath: string): Promise<Record<string, StepRunner>> {
  const full = resolve(modulePath);
  if (!existsSync(full) || !statSync(full).isFile()) {
    throw new RunnersModuleError(`cannot load runners module ${modulePath}: no such file (${full})`);
  }
  const url = pathToFileURL(full).href;
  let namespace: unknown;
  try {
    // `import()` loads CommonJS and ESM alike, top-level await included (require(esm) does not).
    if (TYPESCRIPT.test(extname(full))) await registerTypeScript();
    namespace = await import(url);
  } catch (err) {
    throw new RunnersModuleError(`cannot load runners module ${modulePath}: ${describeError(err)}`, { cause: err });
  }
  const runners = runnersOf(namespace);
  if (!runners || typeof runners !== 'object' || Array.isArray(runners)) {
    throw new RunnersModuleError(
      `runners module ${modulePath} must default-export an object of { name: StepRunner }, got ${runners === null ? 'null' : Array.isArray(runners) ? 'an array' : typeof runners}`,
    );
  }
  const entries = Object.entries(runners as Record<string, unknown>).filter(([name]) => name !== '__esModule');
  const bad = entries.find(([, v]) => typeof v !== 'function');
  if (bad) throw new RunnersModuleError(`runners module ${modulePath}: "${bad[0]}" is not a function`);
  if (entries.length === 0) throw new RunnersModuleError(`runners module ${modulePath} exports no runners`);
  return Object.fromEntries(entries) as Record<string, StepRunner>;
}
