// Spawns tests/js/py_server_peer.py: the Python core's server side over
// stdin/stdout, one JSON value per line (see the script's docstring).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { REPO } from "./helpers.mjs";

/** The Python interpreter: $SECUREMSG_PYTHON, else the repo's .venv. */
export const PYTHON = process.env.SECUREMSG_PYTHON || join(REPO, ".venv", "bin", "python");
export const PYTHON_MISSING = existsSync(PYTHON) ? false : `no Python interpreter at ${PYTHON} (set SECUREMSG_PYTHON)`;
const SCRIPT = join(REPO, "tests", "js", "py_server_peer.py");

export class PythonPeer {
  /** @param {string[]} flags py_server_peer.py options, e.g. ["--echo"] */
  constructor(flags = []) {
    this.proc = spawn(PYTHON, [SCRIPT, ...flags], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    this.lines = [];
    this.waiters = [];
    this.stderr = "";
    this.exited = new Promise((resolve) => this.proc.on("exit", resolve));
    this.exited.then(() => {
      // Nothing more will come: release everyone still waiting.
      for (const waiter of this.waiters.splice(0)) waiter(null);
    });
    this.proc.stderr.on("data", (chunk) => {
      this.stderr += chunk;
    });
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(line);
      else this.lines.push(line);
    });
  }

  /** Send one line (a frame object or text, or a {ctl} object). */
  write(value) {
    this.proc.stdin.write(`${typeof value === "string" ? value : JSON.stringify(value)}\n`);
  }

  /** The next output line as text (rejects after `timeout` ms). */
  nextLine(timeout = 10000) {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer silent; stderr: ${this.stderr}`)), timeout);
      this.waiters.push((line) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`peer exited; stderr: ${this.stderr}`));
        else resolve(line);
      });
    });
  }

  /** The next output line parsed. */
  async next(timeout) {
    return JSON.parse(await this.nextLine(timeout));
  }

  /** Skip `got` reports and return the next frame text (or a close object). */
  async nextFrame(timeout) {
    for (;;) {
      const line = await this.nextLine(timeout);
      const obj = JSON.parse(line);
      if (obj.ctl === "got") continue;
      return obj.ctl ? obj : line;
    }
  }

  close() {
    this.proc.stdin.end();
    this.proc.kill();
    return this.exited;
  }
}
