/**
 * The web console: sign in, chat with streamed markdown, and compare the delivery paths side by side (comparePanel.ts).
 * Plain TypeScript + DOM (no framework: the page is small). Model output only ever reaches the DOM as text nodes.
 */
import { parseClientConfig, type ClientConfig } from "../../client/config";
import { graphqlRequest } from "../../client/graphql";
import { subscribe } from "../../client/realtime";
import { GUARDRAIL_INTERVENED_REASON, STOPPED_REASON } from "../../contracts/messageState";
import { LOCAL_TEST_USERS, SignInError, signInCognito, signInLocal, type SignedIn } from "./auth";
import { agentView, renderAnswer } from "./agentView";
import prices from "../../bench/prices.json";
import { setupCompare, type PathRunner, type PathRunners } from "./comparePanel";
import { $, fmtMs, frameScheduler, h } from "./dom";
import type { DeliveryPath, DeliveryPrices } from "./requestEstimate";
import { StreamSession, type MessageRun, type StreamDeps } from "./streamSession";
import { enabledTransports, FunctionUrlSession, WebsocketSession, type ChatSession, type ChatTransport } from "./transportSessions";

const now = (): number => performance.now();
/** The published prices the comparison's cost figures use (bench/prices.json, bundled into the page). */
const PRICES: DeliveryPrices = prices;

interface App {
  config: ClientConfig;
  user?: SignedIn;
  chat?: ChatSession;
}

async function loadConfig(): Promise<ClientConfig> {
  const res = await fetch("client-config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return parseClientConfig(await res.text());
}

function deps(app: App): StreamDeps {
  return {
    config: app.config,
    idToken: () => {
      if (!app.user) throw new SignInError("Sign in first.");
      return app.user.idToken();
    },
    subscribe,
    graphqlRequest: (url, doc, vars, headers) => graphqlRequest(url, doc, vars, headers),
    WebSocketImpl: WebSocket,
    now,
  };
}

// ---------- sign-in ----------

type CognitoAuth = Extract<ClientConfig["auth"], { type: "cognito" }>;

/** What a sign-in form reports to: the shared status line and the app that receives the signed-in user. */
interface SignInOutcome {
  status: HTMLElement;
  signedIn(user: SignedIn): void;
  fail(err: unknown): void;
}

/** Runs one sign-in attempt with the button disabled and the status cleared; the user or the error goes to `outcome`. */
function attemptSignIn(button: HTMLButtonElement, outcome: SignInOutcome, signIn: () => Promise<SignedIn>): void {
  button.disabled = true;
  outcome.status.textContent = "";
  signIn()
    .then(outcome.signedIn)
    .catch(outcome.fail)
    .finally(() => (button.disabled = false));
}

/** Local stack: pick a test user; the local issuer mints the token. */
function localSignInForm(issuerUrl: string, outcome: SignInOutcome): HTMLFormElement {
  const select = h("select", { id: "local-user", "data-testid": "local-user" }, ...LOCAL_TEST_USERS.map((u) => h("option", { value: u }, u)));
  const button = h("button", { type: "submit", "data-testid": "signin" }, "Sign in");
  const form = h("form", { class: "signin-form" }, h("label", { for: "local-user" }, "Test user"), select, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    attemptSignIn(button, outcome, () => signInLocal(issuerUrl, select.value));
  });
  return form;
}

/**
 * Cognito user pool: username and password (SRP). When the pool asks for a new password, the hidden row appears and
 * the next submit answers that challenge instead of starting a new sign-in.
 */
function cognitoSignInForm(auth: CognitoAuth, outcome: SignInOutcome): HTMLFormElement {
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: "" });
  const newPassword = h("input", { id: "new-password", type: "password", autocomplete: "new-password" });
  const newPasswordRow = h("div", { class: "row", hidden: "" }, h("label", { for: "new-password" }, "New password"), newPassword);
  const button = h("button", { type: "submit", "data-testid": "signin" }, "Sign in");
  let pendingNew: ((pw: string | undefined) => void) | undefined;
  const form = h(
    "form",
    { class: "signin-form" },
    h("div", { class: "row" }, h("label", { for: "username" }, "Username"), username),
    h("div", { class: "row" }, h("label", { for: "password" }, "Password"), password),
    newPasswordRow,
    button,
  );
  const askForNewPassword = (): Promise<string | undefined> =>
    new Promise((resolve) => {
      newPasswordRow.hidden = false;
      outcome.status.textContent = "Choose a new password to finish signing in.";
      button.disabled = false;
      pendingNew = resolve;
    });
  // Passwords leave the form as soon as they are no longer needed.
  const signedIn = (user: SignedIn): void => {
    password.value = "";
    newPassword.value = "";
    outcome.signedIn(user);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (pendingNew) {
      pendingNew(newPassword.value || undefined);
      pendingNew = undefined;
      return;
    }
    const credentials = { username: username.value.trim(), password: password.value, newPassword: askForNewPassword };
    attemptSignIn(button, { ...outcome, signedIn }, () => signInCognito(auth, credentials));
  });
  return form;
}

/** Renders the sign-in box for the environment's kind of auth; `onSignedIn` runs once `app.user` is set. */
function renderSignIn(app: App, onSignedIn: () => void): void {
  const box = $("signin");
  const status = h("p", { class: "form-error", role: "alert", "data-testid": "signin-error" });
  const outcome: SignInOutcome = {
    status,
    signedIn: (user) => {
      app.user = user;
      onSignedIn();
    },
    fail: (err) => {
      status.textContent = err instanceof SignInError ? err.message : "Sign-in failed. Try again.";
    },
  };
  const auth = app.config.auth;
  const [hint, form] =
    auth.type === "local"
      ? ["Local stack: tokens come from the local issuer.", localSignInForm(auth.issuerUrl, outcome)]
      : [`Cognito user pool ${auth.userPoolId}`, cognitoSignInForm(auth, outcome)];
  box.replaceChildren(h("h2", {}, "Sign in"), h("p", { class: "hint" }, hint), form, status);
}

// ---------- chat ----------

/** What a finished or running answer says about itself in its status line. */
function runStatusText(run: MessageRun): string {
  if (run.status === "sending") return run.stopping ? "stopping…" : "waiting for the first token…";
  if (run.status === "streaming") return run.stopping ? "stopping…" : "streaming…";
  if (run.status === "failed") return "failed";
  const stopReason = run.assembler.final?.stopReason;
  if (stopReason === GUARDRAIL_INTERVENED_REASON) return "blocked by the content policy";
  return stopReason === STOPPED_REASON ? "stopped" : "done";
}

function assistantView(run: MessageRun, onRetry: () => void, onStop: () => void): { el: HTMLElement; render: () => void } {
  const status = h("div", { class: "meta", "data-testid": "message-meta" });
  const reasoningBody = h("div", { class: "reasoning-body" });
  const reasoning = h("details", { class: "reasoning", hidden: "", "data-testid": "reasoning" }, h("summary", {}, "Reasoning"), reasoningBody);
  const answer = h("div", { class: "markdown", "data-testid": "answer" });
  const source = h("pre", { class: "source", "data-testid": "answer-source" });
  const sourceBox = h("details", { class: "source-box" }, h("summary", {}, "Markdown source"), source);
  const retry = h("button", { type: "button", class: "retry", "data-testid": "retry" }, "Retry");
  retry.addEventListener("click", onRetry);
  const stop = h("button", { type: "button", class: "stop", "data-testid": "stop" }, "Stop");
  stop.addEventListener("click", onStop);
  const errorText = h("span", { "data-testid": "error-text" });
  const error = h("div", { class: "error", role: "alert", hidden: "", "data-testid": "error" }, errorText, retry);
  const agent = agentView(reasoning, reasoningBody);
  const el = h("article", { class: "message assistant", "data-testid": "assistant-message" }, reasoning, answer, agent.references, error, status, stop, sourceBox);
  const render = (): void => {
    const a = run.assembler;
    el.dataset.status = run.status;
    renderAnswer(answer, a);
    source.textContent = a.text;
    agent.render(a);
    error.hidden = run.status !== "failed";
    if (run.status === "failed") {
      errorText.textContent = run.failure ?? "Something went wrong.";
      retry.hidden = !run.retryable;
    }
    stop.hidden = run.status === "done" || run.status === "failed";
    (stop as HTMLButtonElement).disabled = run.stopping === true;
    const ttft = a.firstChunkAt === undefined ? undefined : a.firstChunkAt - run.sentAt;
    const parts = [
      runStatusText(run),
      `first token ${fmtMs(ttft)}`,
      `${a.chunkCount} ${a.chunkCount === 1 ? "chunk" : "chunks"}`,
    ];
    if (a.final) parts.push(`${a.final.usage.outputTokens} tokens`);
    if (a.incomplete) parts.push(`${a.missingSequenceNumbers.length} chunks missing; the answer was too long to resend whole`);
    else if (a.missingSequenceNumbers.length) parts.push(`${a.missingSequenceNumbers.length} missing chunks filled from the final answer`);
    status.textContent = parts.join(" · ");
  };
  render();
  return { el, render };
}

/** A socket outlives a lost network for minutes (until its keep-alive times out): follow the browser's own signal. */
function followNetwork(app: App): void {
  window.addEventListener("offline", () => app.chat?.offline());
  window.addEventListener("online", () => app.chat?.online());
}

/** The header's "reconnecting…" badge, shown while the answer stream is reconnecting. */
function showConnection(state: "live" | "reconnecting" | "closed"): void {
  $("connection").hidden = state !== "reconnecting";
}

/** Opens a chat session on the chosen transport, keeping the conversation's sessionId across transports. */
async function openChat(app: App, transport: ChatTransport, sessionId: string | undefined): Promise<ChatSession> {
  const { functionUrl, websocketUrl } = app.config;
  if (transport === "function_url" && functionUrl) return new FunctionUrlSession(deps(app), functionUrl, sessionId);
  if (transport === "websocket" && websocketUrl) return WebsocketSession.open(deps(app), websocketUrl, sessionId);
  return StreamSession.open(deps(app), sessionId, { onConnection: showConnection });
}

const TRANSPORT_LABELS: Record<ChatTransport, string> = { appsync: "AppSync", function_url: "Function URL", websocket: "WebSocket" };

/** The chat's transport picker (shown when the environment has more than AppSync); returns the current choice. */
function transportPicker(app: App): () => ChatTransport {
  const picker = $("transport") as HTMLSelectElement;
  const transports = enabledTransports(app.config);
  picker.replaceChildren(...transports.map((t) => h("option", { value: t }, TRANSPORT_LABELS[t])));
  picker.hidden = transports.length < 2;
  let chosen: ChatTransport = "appsync";
  // A new transport gets a new session on the next question; the conversation (sessionId, history) carries over.
  picker.addEventListener("change", () => {
    chosen = picker.value as ChatTransport;
    app.chat?.close();
  });
  return () => chosen;
}

function setupChat(app: App): void {
  const messages = $("messages");
  const form = $("composer") as HTMLFormElement;
  const prompt = $("prompt") as HTMLTextAreaElement;
  const model = $("model") as HTMLSelectElement;
  const send = $("send") as HTMLButtonElement;
  model.replaceChildren(...app.config.models.allowedModelIds.map((m) => h("option", { value: m, selected: m === app.config.models.defaultModelId ? "" : undefined }, m)));
  const chatTransport = transportPicker(app);

  /** Keeps the newest text in view while streaming, unless the user scrolled up to read. */
  const followingRender = (render: () => void) => (): void => {
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48;
    render();
    if (atBottom) messages.scrollTop = messages.scrollHeight;
  };

  /** Sends `text`; a retry passes the failed answer's element, which the new answer replaces in place. */
  const ask = async (text: string, replacing?: HTMLElement): Promise<void> => {
    const place = (el: HTMLElement): void => {
      if (replacing) replacing.replaceWith(el);
      else messages.append(el);
      messages.scrollTop = messages.scrollHeight;
    };
    if (!replacing) messages.append(h("article", { class: "message user", "data-testid": "user-message" }, text));
    send.disabled = true;
    try {
      if (!app.chat || app.chat.closed) app.chat = await openChat(app, chatTransport(), app.chat?.sessionId);
    } catch (err) {
      const retry = h("button", { type: "button", class: "retry", "data-testid": "retry" }, "Retry");
      const note = h("div", { class: "error", role: "alert", "data-testid": "error" }, h("span", { "data-testid": "error-text" }, (err as Error).message), retry);
      retry.addEventListener("click", () => void ask(text, note));
      place(note);
      send.disabled = false;
      return;
    }
    let view: ReturnType<typeof assistantView> | undefined;
    const schedule = frameScheduler(followingRender(() => view?.render()));
    const run = app.chat.send(text, { modelId: model.value, onUpdate: schedule });
    view = assistantView(run, () => void ask(text, view?.el), () => void app.chat?.stop(run));
    view.el.dataset.messageId = run.messageId;
    place(view.el);
    await run.settled;
    followingRender(view.render)();
    send.disabled = false;
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text || send.disabled) return;
    prompt.value = "";
    void ask(text);
  });
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

// ---------- comparison ----------

/** A comparison run on AppSync, with the delivery path chosen per request, on a session of its own. */
function appsyncRunner(app: App, delivery: DeliveryPath): PathRunner {
  return async (prompt, onUpdate) => {
    const session = await StreamSession.open(deps(app));
    return { run: session.send(prompt, { delivery, onUpdate }), close: () => session.close() };
  };
}

/** A comparison run on the Function URL or the WebSocket API, on a session of its own. */
function transportRunner(app: App, transport: "function_url" | "websocket"): PathRunner {
  return async (prompt, onUpdate) => {
    const session = await openChat(app, transport, undefined);
    return { run: session.send(prompt, { onUpdate }), close: () => session.close() };
  };
}

function startCompare(app: App): void {
  const runners: PathRunners = { DIRECT: appsyncRunner(app, "DIRECT"), QUEUED: appsyncRunner(app, "QUEUED") };
  if (app.config.functionUrl) runners.FUNCTION_URL = transportRunner(app, "function_url");
  if (app.config.websocketUrl) runners.WEBSOCKET = transportRunner(app, "websocket");
  setupCompare({
    form: $("compare-form") as HTMLFormElement,
    input: $("compare-prompt") as HTMLInputElement,
    button: $("compare-run") as HTMLButtonElement,
    container: $("compare-paths"),
    batching: app.config.batching,
    runners,
    prices: PRICES,
    now,
    schedule: frameScheduler,
  });
}

// ---------- start ----------

async function main(): Promise<void> {
  const boot = $("boot");
  let config: ClientConfig;
  try {
    config = await loadConfig();
  } catch {
    boot.textContent =
      "Could not load client-config.json beside this page. Local: run `npm start`. Deployed: run `npm run client-config` and put the file next to index.html.";
    boot.classList.add("error");
    return;
  }
  boot.remove();
  const app: App = { config };
  $("env").textContent = `${config.environment} · ${config.region}`;
  const who = $("who");
  const signOut = $("signout") as HTMLButtonElement;
  const showSignedIn = (): void => {
    $("signin").hidden = true;
    $("workspace").hidden = false;
    who.textContent = app.user ? `signed in as ${app.user.username}` : "";
    signOut.hidden = false;
    ($("prompt") as HTMLTextAreaElement).focus();
  };
  signOut.addEventListener("click", () => {
    app.chat?.close();
    app.chat = undefined;
    app.user?.signOut();
    app.user = undefined;
    who.textContent = "";
    signOut.hidden = true;
    $("workspace").hidden = true;
    $("messages").replaceChildren();
    $("signin").hidden = false;
  });
  renderSignIn(app, showSignedIn);
  setupChat(app);
  followNetwork(app);
  startCompare(app);
  $("signin").hidden = false;
}

void main();
