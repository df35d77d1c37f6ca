// Processes the bench starts: daemons (nginx, haproxy, kube-local-lb) in sessions of their own,
// short commands (wrk, curl) and clients with a hard time limit. Every PID is recorded here, and
// only recorded PIDs (and their descendants, read from /proc) are ever signalled.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Every process started and not yet seen to exit: pid -> label. */
const running = new Map();

/**
 * Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses):
 * [0] state, [1] ppid, [11] utime, [12] stime, [19] starttime.
 */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `root` and all its descendants that are alive now, root first. */
export function processTree(root) {
  if (!statFields(root)) return [];
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (!f) continue;
    const ppid = Number(f[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/**
 * CPU seconds used so far by the processes, all their threads. From schedstat (nanoseconds):
 * utime+stime in /proc/PID/stat are counted in clock ticks (10 ms), too coarse for a few
 * nginx workers that each use tens of milliseconds in a window.
 */
export function cpuSeconds(pids) {
  let seconds = 0;
  for (const pid of pids) {
    let tasks;
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    let ns = 0;
    let precise = true;
    for (const tid of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        precise = false;
      }
    }
    if (precise) {
      seconds += ns / 1e9;
    } else {
      const f = statFields(pid);
      if (f) seconds += (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    }
  }
  return seconds;
}

/** Resident and proportional set size in KiB, summed over the processes. */
export function memoryKb(pids) {
  let rssKb = 0;
  let pssKb = 0;
  for (const pid of pids) {
    try {
      rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1] ?? 0);
    } catch {
      // The process ended between the listing and the read: it holds no memory any more.
    }
  }
  return { rssKb, pssKb, processes: pids.length };
}

function isAlive(pid) {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z';
}

function signal(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stops `root` and every descendant with SIGSTOP. The root goes first, so that a master process
 * (nginx) cannot respawn a worker in between; then the descendants, until the set is stable.
 * Returns the stopped PIDs.
 */
export async function freezeTree(root) {
  signal([root], 'SIGSTOP');
  for (let i = 0; i < 100 && statFields(root)?.[0] !== 'T' && isAlive(root); i++) await sleep(5);
  let pids = [];
  for (let round = 0; round < 5; round++) {
    const now = processTree(root);
    signal(now, 'SIGSTOP');
    if (now.length === pids.length) break;
    pids = now;
  }
  return processTree(root);
}

export function thawTree(root) {
  signal(processTree(root), 'SIGCONT');
}

/** SIGKILL for `root` and its descendants, frozen first so none escapes by forking. */
export async function killTree(root) {
  const pids = await freezeTree(root);
  signal(pids, 'SIGKILL');
  for (let i = 0; i < 200 && pids.some(isAlive); i++) await sleep(10);
}

/**
 * Starts a long-running process in a session of its own (so a Ctrl-C on the terminal reaches
 * only the bench, which then stops it by PID), output appended to `logFile`.
 * Returns { pid, label, exited: Promise<{code, signal}> }.
 */
export function startDaemon(label, command, args, { logFile, env = process.env }) {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const exited = new Promise((resolve) => {
    child.once('error', (err) => resolve({ code: -1, signal: null, error: err.message }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
  if (child.pid === undefined) return { pid: undefined, label, exited };
  const pid = child.pid;
  running.set(pid, label);
  void exited.then(() => running.delete(pid));
  return { pid, label, exited };
}

/**
 * Stops a daemon: SIGTERM to its root (after SIGCONT, in case it was frozen), up to `graceMs` for
 * it to exit, then SIGKILL to whatever is left of its tree. Resolves once everything has exited.
 */
export async function stopDaemon(daemon, graceMs = 5000) {
  if (daemon.pid === undefined || !running.has(daemon.pid)) return;
  const tree = processTree(daemon.pid);
  signal(tree, 'SIGCONT');
  signal([daemon.pid], 'SIGTERM');
  if (!(await within(daemon.exited, graceMs))) await killTree(daemon.pid);
  // A master's workers normally end before it; any that did not are killed by their PIDs.
  signal(tree.filter(isAlive), 'SIGKILL');
  await within(daemon.exited, 2000);
}

/** True if `promise` settles within `ms`; the timer does not outlive the wait. */
export async function within(promise, ms) {
  let timer;
  const expired = new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a command to completion with a hard limit: SIGKILL after `timeoutMs`.
 * Resolves { code, signal, stdout, stderr, timedOut }; never rejects.
 */
export function runCommand(command, args, { timeoutMs, env = process.env, onStdout } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    if (child.pid !== undefined) running.set(child.pid, command);
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signal(processTree(child.pid), 'SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      onStdout?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout, stderr: stderr + err.message, timedOut });
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ code, signal: sig, stdout, stderr, timedOut });
    });
  });
}

/**
 * Starts a Node client script; `lines` is an async iterator over its stdout lines, `done` its
 * completion. It is SIGKILLed after `timeoutMs` whatever happens.
 */
export function startClient(script, args, { timeoutMs }) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) running.set(child.pid, script);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.once('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ code, signal: sig, stderr });
    });
  });
  // Lines are queued as they arrive so that none is lost between two reads.
  const queue = [];
  const waiters = [];
  let buffered = '';
  let ended = false;
  const push = (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  };
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.stdout.on('end', () => {
    ended = true;
    if (buffered) push(buffered);
    while (waiters.length) waiters.shift()(undefined);
  });
  /** The next stdout line, or undefined at end of output or after `ms`. */
  const nextLine = (ms) => {
    if (queue.length) return Promise.resolve(queue.shift());
    if (ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        resolve(undefined);
      }, ms);
      const w = (line) => {
        clearTimeout(t);
        resolve(line);
      };
      waiters.push(w);
    });
  };
  return { pid: child.pid, nextLine, done, stop: () => child.kill('SIGTERM') };
}

/** True as soon as a TCP connect to host:port succeeds; false after `timeoutMs`. */
export async function waitPort(host, port, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  do {
    if (await canConnect(host, port, 500)) return true;
    await sleep(50);
  } while (Date.now() < deadline);
  return false;
}

/** True when nothing accepts on host:port any more (connect refused or times out). */
export async function waitPortClosed(host, port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  do {
    if (!(await canConnect(host, port, 200))) return true;
    await sleep(20);
  } while (Date.now() < deadline);
  return false;
}

export function canConnect(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const finish = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

/**
 * Last resort on exit or interrupt: SIGCONT then SIGKILL every recorded process and its
 * descendants, synchronously.
 */
export function killEverything() {
  for (const pid of [...running.keys()]) {
    const tree = processTree(pid);
    signal(tree, 'SIGCONT');
    signal(tree, 'SIGKILL');
    running.delete(pid);
  }
}

export function runningCount() {
  return running.size;
}
