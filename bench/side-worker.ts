/** A side's worker process (bench/worker.ts), driven over IPC (bench/protocol.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { type Memory, type Reply, type Request, type Side } from './protocol';

/** Each side's task queue. */
export const QUEUE: Record<Side, string> = { ours: 'bench-ours', base: 'bench-base' };

/** A request without its `id`, kind by kind (`Omit` on the union would merge the kinds). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** A side's worker process and the requests it answers. */
export class SideWorker {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  /** Steps started so far, as last reported. */
  steps = 0;

  private constructor(
    readonly side: Side,
    readonly child: ChildProcess,
  ) {
    child.on('message', (reply: Reply) => {
      if (reply.type === 'progress') this.steps = reply.steps;
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static async start(
    side: Side,
    address: string,
    bundle: string,
    env: NodeJS.ProcessEnv,
    cpuProfDir?: string,
  ): Promise<SideWorker> {
    const child = fork(join(__dirname, 'worker.ts'), [side, address, QUEUE[side], bundle], {
      execArgv: [
        '--import',
        'tsx',
        '--expose-gc',
        ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
      ],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the ${side} worker exited with ${code} before it was ready`)));
    });
    child.removeAllListeners('exit');
    return new SideWorker(side, child);
  }

  private ask<T extends Reply>(request: RequestBody): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onExit = () => reject(new Error(`the ${this.side} worker exited while asked for ${request.type}`));
      this.child.once('exit', onExit);
      this.pending.set(id, (reply) => {
        this.child.off('exit', onExit);
        resolve(reply as T);
      });
      this.child.send({ ...request, id } as Request);
    });
  }

  /** Step start times by run since the last call. */
  async marks(): Promise<Map<string, number[]>> {
    return new Map((await this.ask<Extract<Reply, { type: 'marks' }>>({ type: 'marks' })).marks);
  }

  async record(on: boolean): Promise<void> {
    await this.ask({ type: 'record', on });
  }

  async memory(): Promise<Memory> {
    return (await this.ask<Extract<Reply, { type: 'memory' }>>({ type: 'memory' })).memory;
  }

  /** Ours only: runs a batch from the worker's own process (eager start). */
  async batch(
    ids: string[],
    steps: number,
    concurrency: number,
    runner: string,
  ): Promise<Extract<Reply, { type: 'batch' }>> {
    return this.ask({ type: 'batch', ids, steps, concurrency, runner });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.ask({ type: 'stop' });
    await exited;
  }
}
