//! taquba-workflow on bench/run.ts's short-run workload: `--runs` runs of `--steps` no-op steps,
//! `--concurrency` runs in flight at once (so at most that many steps run at once, and the worker
//! has as many step slots), on Taquba's local-filesystem object store in a fresh directory.
//!
//! Flags: `--runs 200 --steps 10 --concurrency 50 --settings default|fastest [--sequential |
//! --all-at-once] [--store <dir>]`.
//! - `--settings fastest`: `OpenOptions::flush_interval(1 ms)` (SlateDB's WAL flush, which every
//!   enqueue and ack awaits) and `WorkflowRuntimeBuilder::poll_interval(1 ms)` (the worker's wait on
//!   an empty queue). `default` leaves both to the crates (SlateDB's 100 ms flush, 250 ms poll).
//! - `--sequential`: one run at a time, each submitted when the previous one has ended.
//! - `--all-at-once`: every run submitted first (concurrently), then all awaited, so the worker's
//!   `--concurrency` step slots are the only bound: Taquba's own shape of "50 concurrent steps",
//!   where the default keeps bench/run.ts's shape (a client pool of `--concurrency` runs in flight).
//! - `--store`: an empty or missing directory for the store (kept afterwards); without it a fresh
//!   temporary directory is used and removed.
//!
//! Prints one JSON line: `{"runs","steps","seconds","stepsPerSecond","settings","version",...}`.
//! The clock runs from the first submit to the end of the last run (`WorkflowRuntime::wait`), so
//! opening the store and starting the worker are not counted; they are reported apart, as
//! `setupSeconds` (open the queue, start the worker) and `teardownSeconds` (stop it, close).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use taquba::object_store::local::LocalFileSystem;
use taquba::{OpenOptions, Queue};
use taquba_workflow::{
    NoopTerminalHook, RunId, RunSpec, Step, StepError, StepOutcome, StepRunner, TerminalStatus,
    WorkflowRuntime,
};

const VERSION: &str = env!("TAQUBA_WORKFLOW_VERSION");
const TAQUBA_VERSION: &str = env!("TAQUBA_VERSION");

/// The "fastest" settings: 1 ms for both the WAL flush and the worker's poll.
const FASTEST: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settings {
    Default,
    Fastest,
}

impl Settings {
    fn name(self) -> &'static str {
        match self {
            Settings::Default => "default",
            Settings::Fastest => "fastest",
        }
    }
}

struct Args {
    runs: usize,
    steps: u32,
    concurrency: usize,
    settings: Settings,
    sequential: bool,
    all_at_once: bool,
    store: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        runs: 200,
        steps: 10,
        concurrency: 50,
        settings: Settings::Default,
        sequential: false,
        all_at_once: false,
        store: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--sequential" {
            args.sequential = true;
            continue;
        }
        if flag == "--all-at-once" {
            args.all_at_once = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let whole = |v: &str| -> Result<usize, String> {
            match v.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("{flag} must be a whole number ≥ 1, got {v}")),
            }
        };
        match flag.as_str() {
            "--runs" => args.runs = whole(&value)?,
            "--steps" => {
                args.steps = u32::try_from(whole(&value)?).map_err(|e| format!("{flag}: {e}"))?
            }
            "--concurrency" => args.concurrency = whole(&value)?,
            "--settings" => {
                args.settings = match value.as_str() {
                    "default" => Settings::Default,
                    "fastest" => Settings::Fastest,
                    _ => {
                        return Err(format!(
                            "--settings must be default or fastest, got {value}"
                        ));
                    }
                }
            }
            "--store" => args.store = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.sequential && args.all_at_once {
        return Err("--sequential and --all-at-once exclude each other".to_string());
    }
    Ok(args)
}

/// A run of `steps` steps that do nothing: continue with an empty payload, succeed on the last.
struct Noop {
    steps: u32,
}

impl StepRunner for Noop {
    async fn run_step(&self, step: &Step) -> Result<StepOutcome, StepError> {
        if step.step_number + 1 >= self.steps {
            Ok(StepOutcome::Succeed { result: Vec::new() })
        } else {
            Ok(StepOutcome::continue_now(Vec::new()))
        }
    }
}

type Runtime = WorkflowRuntime<Noop, NoopTerminalHook>;
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Submits run `i` (its input is empty: the runner counts steps by number).
async fn submit(runtime: &Runtime, i: usize) -> Result<RunId, Failure> {
    let run_id = RunId::new(format!("run-{i}"))?;
    runtime
        .submit(RunSpec {
            run_id: Some(run_id.clone()),
            ..Default::default()
        })
        .await?;
    Ok(run_id)
}

/// Waits for a run to end; a run that did not succeed fails the bench (it would measure nothing).
async fn finish(runtime: &Runtime, run_id: &RunId) -> Result<(), Failure> {
    let end = runtime.wait(run_id).await?;
    if end.termination.status != TerminalStatus::Succeeded {
        return Err(format!(
            "run {run_id} ended {:?}: {:?}",
            end.termination.status, end.termination.error
        )
        .into());
    }
    Ok(())
}

async fn run_to_end(runtime: &Runtime, i: usize) -> Result<(), Failure> {
    let run_id = submit(runtime, i).await?;
    finish(runtime, &run_id).await
}

/// The store directory: the one given (created; must be empty), or a fresh temporary one.
fn store_dir(given: Option<&Path>) -> Result<(PathBuf, bool), Failure> {
    let (dir, temporary) = match given {
        Some(dir) => (dir.to_path_buf(), false),
        None => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
            let name = format!("taquba-peer-{}-{nanos}", std::process::id());
            (std::env::temp_dir().join(name), true)
        }
    };
    std::fs::create_dir_all(&dir)?;
    if std::fs::read_dir(&dir)?.next().is_some() {
        return Err(format!("store directory {} is not empty", dir.display()).into());
    }
    Ok((dir, temporary))
}

struct Timings {
    setup: f64,
    work: f64,
    teardown: f64,
}

async fn bench(args: &Args, dir: &Path) -> Result<Timings, Failure> {
    let t_setup = Instant::now();
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir)?);
    let mut open = OpenOptions::default();
    if args.settings == Settings::Fastest {
        open = open.flush_interval(FASTEST);
    }
    let queue = Arc::new(Queue::open_with_options(store.clone(), "bench", open).await?);
    let mut builder = WorkflowRuntime::builder(
        queue.clone(),
        store,
        Noop { steps: args.steps },
        NoopTerminalHook,
    )
    .max_concurrent_steps(args.concurrency);
    if args.settings == Settings::Fastest {
        builder = builder.poll_interval(FASTEST);
    }
    let runtime = builder.build()?;
    let worker = runtime.spawn(std::future::pending::<()>());

    let setup = t_setup.elapsed().as_secs_f64();

    let t0 = Instant::now();
    if args.all_at_once {
        let submits: Vec<_> = (0..args.runs)
            .map(|i| {
                let runtime = runtime.clone();
                tokio::spawn(async move { submit(&runtime, i).await })
            })
            .collect();
        let mut run_ids = Vec::with_capacity(args.runs);
        for submitted in submits {
            run_ids.push(submitted.await??);
        }
        for run_id in &run_ids {
            finish(&runtime, run_id).await?;
        }
    } else if args.sequential {
        for i in 0..args.runs {
            run_to_end(&runtime, i).await?;
        }
    } else {
        let next = Arc::new(AtomicUsize::new(0));
        let lanes: Vec<_> = (0..args.concurrency.min(args.runs))
            .map(|_| {
                let (runtime, next, runs) = (runtime.clone(), next.clone(), args.runs);
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= runs {
                            return Ok::<(), Failure>(());
                        }
                        run_to_end(&runtime, i).await?;
                    }
                })
            })
            .collect();
        for lane in lanes {
            lane.await??;
        }
    }
    let work = t0.elapsed().as_secs_f64();

    let t_teardown = Instant::now();
    worker.shutdown().await?;
    drop(runtime);
    if let Ok(queue) = Arc::try_unwrap(queue) {
        queue.close().await?;
    }
    Ok(Timings {
        setup,
        work,
        teardown: t_teardown.elapsed().as_secs_f64(),
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("taquba-peer-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let result = store_dir(args.store.as_deref()).and_then(|(dir, temporary)| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let timings = runtime.block_on(bench(&args, &dir));
        drop(runtime);
        if temporary {
            let _ = std::fs::remove_dir_all(&dir);
        }
        timings
    });
    match result {
        Ok(t) => {
            let steps = args.runs * args.steps as usize;
            let shape = if args.sequential {
                "sequential"
            } else if args.all_at_once {
                "all-at-once"
            } else {
                "pool"
            };
            println!(
                "{{\"runs\":{},\"steps\":{},\"seconds\":{},\"stepsPerSecond\":{},\"settings\":\"{}\",\"version\":\"{}\",\"taquba\":\"{}\",\"shape\":\"{}\",\"concurrency\":{},\"setupSeconds\":{},\"teardownSeconds\":{}}}",
                args.runs,
                steps,
                t.work,
                steps as f64 / t.work,
                args.settings.name(),
                VERSION,
                TAQUBA_VERSION,
                shape,
                args.concurrency,
                t.setup,
                t.teardown,
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("taquba-peer-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
