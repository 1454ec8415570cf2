/**
 * The workflow bundle: durable-runs' workflows and payload converter, with (for encryption) the
 * encrypting failure converter and (for tracing) the tracing workflow interceptors, packed by the
 * SDK's webpack bundler into the one file a worker's sandbox loads.
 *
 * `npm run build` writes every kind into the compiled code's top (`lib/bundles/workflows*.js`); a
 * worker then starts without webpack. Without them (running from the TypeScript sources) the
 * worker bundles at start, with the bundler's output kept below warnings.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { encryptedFailureConverterPath } from '../payloads/encryption';
import { TRACING_WORKFLOW_MODULE } from '../observability';

export const workflowsPath = require.resolve('../workflows');
export const payloadConverterPath = require.resolve('../shared/worker-payload-converter');

/** Which bundle: `encrypted` for workers with encryption keys, `tracing` for workers that trace. */
export interface BundleKind {
  encrypted?: boolean;
  tracing?: boolean;
}

const KINDS: readonly Required<BundleKind>[] = [false, true].flatMap((encrypted) =>
  [false, true].map((tracing) => ({ encrypted, tracing })),
);

/** `workflows[-encrypted][-tracing].js` */
export function bundleFileName(kind: BundleKind): string {
  return `workflows${kind.encrypted ? '-encrypted' : ''}${kind.tracing ? '-tracing' : ''}.js`;
}

/** The top of the compiled code (`lib/`), whose `bundles/` holds the prebuilt bundles. */
const COMPILED_ROOT = join(__dirname, '..');

/** Where `npm run build` writes a bundle, below `dir` (the top of the compiled code). */
export function prebuiltBundlePath(kind: BundleKind, dir = COMPILED_ROOT): string {
  return join(dir, 'bundles', bundleFileName(kind));
}

/** The prebuilt bundle when this module runs from a build that has one. */
export function prebuiltBundle(kind: BundleKind): { codePath: string } | undefined {
  const codePath = prebuiltBundlePath(kind);
  return existsSync(codePath) ? { codePath } : undefined;
}

/** Bundles the workflows now (webpack, a few seconds); the bundler logs only warnings and errors. */
export function buildWorkflowBundle(kind: BundleKind): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    payloadConverterPath,
    ...(kind.encrypted ? { failureConverterPath: encryptedFailureConverterPath } : {}),
    ...(kind.tracing ? { workflowInterceptorModules: [TRACING_WORKFLOW_MODULE] } : {}),
    logger: new DefaultLogger('WARN'),
  });
}

/** `npm run build`: writes every kind of bundle into the compiled code's `bundles/`. */
export async function writeWorkflowBundles(dir = COMPILED_ROOT): Promise<string[]> {
  const written: string[] = [];
  for (const kind of KINDS) {
    const { code } = await buildWorkflowBundle(kind);
    const path = prebuiltBundlePath(kind, dir);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, code);
    written.push(path);
  }
  return written;
}
