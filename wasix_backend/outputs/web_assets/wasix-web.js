// The terminal page of one package (written by `wasix-build web`): a prompt in an xterm
// terminal; the typed command line runs one of the package's commands in Wasmer's
// JavaScript SDK, with the keyboard as its terminal. Everything is loaded from this site.
import { Wasmer } from "./sdk/dist/index.js";
import { Terminal } from "./xterm/lib/xterm.mjs";

const meta = JSON.parse(document.getElementById("wasix-package").textContent);
const COLUMNS = 100;
const ROWS = 30;
const PROMPT = "$ ";

// What the tests and the curious read: the page's state, the last run, and the timings.
const status = {
  state: "loading", // loading → ready → running → ready …, or "failed"
  error: null,
  exitCode: null,
  runs: 0,
  loadedMs: null, // from navigation start to the first prompt
  output: "", // the terminal's text of the last run (command line excluded)
};
window.wasixWeb = status;

const term = new Terminal({ cols: COLUMNS, rows: ROWS, convertEol: true, scrollback: 5000 });
term.open(document.getElementById("terminal"));
term.focus();

function screenText(fromLine = 0) {
  const buffer = term.buffer.active;
  const lines = [];
  for (let i = fromLine; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    if (!line) continue;
    // A wrapped line continues the one before: join them as the program wrote them.
    const text = line.translateToString(true);
    if (line.isWrapped && lines.length) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.join("\n");
}
status.screen = () => screenText(0);

function say(text) {
  term.write(text.replace(/\n/g, "\r\n"));
}

// Split a command line like a shell would for plain words, '…' and "…" quotes and \ escapes.
function splitArgs(line) {
  const words = [];
  let word = null;
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new Error(`unclosed ${quote}`);
  if (word !== null) words.push(word);
  return words;
}

let sandbox = null;
let packages = null;
let lineBuffer = "";
let process = null; // the running program, whose stdin the keyboard feeds
let stdinQueue = Promise.resolve();
let runStartLine = 0;

function prompt() {
  status.state = "ready";
  term.write(PROMPT);
}

async function run(line) {
  let argv;
  try {
    argv = splitArgs(line);
  } catch (error) {
    say(`${error.message}\n`);
    return prompt();
  }
  if (!argv.length) return prompt();
  const [name, ...args] = argv;
  if (!meta.commands.includes(name)) {
    say(`${name}: not a command of ${meta.name}; its commands: ${meta.commands.join(" ")}\n`);
    return prompt();
  }
  status.state = "running";
  status.exitCode = null;
  runStartLine = term.buffer.active.baseY + term.buffer.active.cursorY;
  try {
    process = await sandbox.command(packages[0].command(name), args, { env: meta.env, cwd: meta.cwd }).spawn({
      terminal: { columns: COLUMNS, rows: ROWS },
    });
    const pump = async (stream) => {
      for await (const chunk of stream) term.write(chunk);
    };
    const pumps = [pump(process.stdout), pump(process.stderr)];
    const output = await process.wait();
    await Promise.all(pumps);
    status.exitCode = output.exitCode;
    if (output.exitCode !== 0) say(`\x1b[2m[exit status ${output.exitCode}]\x1b[0m\n`);
  } catch (error) {
    status.exitCode = -1;
    status.error = String(error?.message ?? error);
    say(`\x1b[31m${status.error}\x1b[0m\n`);
  } finally {
    process = null;
  }
  // xterm.js parses writes later: wait until all of the run's output is on the screen.
  await new Promise((resolve) => term.write("", resolve));
  // Make sure the prompt starts a line of its own.
  if (term.buffer.active.cursorX !== 0) term.write("\r\n");
  status.output = screenText(runStartLine);
  status.runs += 1;
  prompt();
}

term.onData((data) => {
  if (process) {
    // The SDK's terminal makes neither a signal of Ctrl-C nor an end of input of Ctrl-D, so
    // the page does, for line-based programs; a full-screen one (on the alternate screen:
    // nano, less) gets them as keys.
    const fullScreen = term.buffer.active.type === "alternate";
    if (data === "\x03" && !fullScreen) {
      term.write("^C\r\n");
      void process.kill().catch(() => {});
      return;
    }
    // In order: Ctrl-D (end of input: stdin is closed) after what was typed before it.
    const stdin = process.stdin;
    const eof = data === "\x04" && !fullScreen;
    stdinQueue = stdinQueue.then(() => (eof ? stdin?.close() : stdin?.write(data))).catch(() => {});
    return;
  }
  if (status.state !== "ready") return;
  for (const c of data) {
    if (c === "\r" || c === "\n") {
      term.write("\r\n");
      const line = lineBuffer;
      lineBuffer = "";
      void run(line);
      return; // the rest of a paste is not typed ahead into the program
    } else if (c === "\x7f" || c === "\b") {
      if (lineBuffer) {
        lineBuffer = lineBuffer.slice(0, -1);
        term.write("\b \b");
      }
    } else if (c === "\x03") {
      lineBuffer = "";
      term.write("^C\r\n" + PROMPT);
    } else if (c >= " ") {
      lineBuffer += c;
      term.write(c);
    }
  }
});

async function start() {
  if (meta.unsupported) {
    status.state = "failed";
    status.error = meta.unsupported;
    say(`\x1b[33m${meta.name} does not run in a browser: ${meta.unsupported}\x1b[0m\n`);
    return;
  }
  if (!window.crossOriginIsolated) {
    // The service worker (coi-serviceworker.js) reloads the page once it controls it.
    say("waiting for cross-origin isolation (the service worker reloads this page)…\n");
  }
  say(`loading ${meta.name} ${meta.version}…\n`);
  try {
    const wasmer = new Wasmer();
    const bytes = await Promise.all(
      meta.webc.map(async (url) => {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
        return new Uint8Array(await response.arrayBuffer());
      }),
    );
    packages = await Promise.all(bytes.map((b) => wasmer.packages.load(b)));
    sandbox = await wasmer.sandboxes.create({ packages, env: meta.env });
  } catch (error) {
    status.state = "failed";
    status.error = String(error?.message ?? error);
    say(`\x1b[31mcannot load ${meta.name}: ${status.error}\x1b[0m\n`);
    return;
  }
  term.reset();
  say(`${meta.name} ${meta.version}: type a command line (${meta.commands.join(", ")}) and Enter; the keyboard is its terminal.\n`);
  status.loadedMs = performance.now();
  prompt();
}

void start();
