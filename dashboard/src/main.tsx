import { ReactNode, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { Link, Route, Router, Switch, useLocation } from "wouter";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, can, logout, Session, setSession, useSession } from "./api";
import { deviceId, parseSeed, signChallenge } from "./crypto";
import { ErrorBox } from "./ui";
import { InstancesPage, InstancePage } from "./pages/instances";
import { ConfigPage } from "./pages/config";
import { AuditPage } from "./pages/audit";
import { MetricsPage } from "./pages/metrics";
import { HealthPage, AlertsPage } from "./pages/health";
import { ModerationPage } from "./pages/moderation";

type LoginAnswer = { admin_token: string; expires_at: number; permissions: string[]; admin_level: string };

function started(r: LoginAnswer, who: string, kind: Session["kind"]): Session {
  return { token: r.admin_token, expiresAt: r.expires_at, permissions: r.permissions, level: r.admin_level, who, kind };
}

function OperatorLogin() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card login"
      aria-labelledby="op-h"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          const r = await api<LoginAnswer>("POST", "/api/login", { email, password });
          setSession(started(r, email, "operator"));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="op-h">Operator login</h2>
      <label>
        Email
        <input name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>Log in</button>
      <ErrorBox error={error} />
    </form>
  );
}

function DeviceLogin() {
  const [seed, setSeed] = useState<Uint8Array | null>(null);
  const [fileName, setFileName] = useState("");
  const [server, setServer] = useState(() => localStorage.getItem("adminplane.server_name") || "chat.example.com");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card login"
      aria-labelledby="dev-h"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        if (!seed) return setError(new Error("Load the device key file first"));
        setBusy(true);
        try {
          const address = `${await deviceId(seed)}@${server.trim()}`;
          const { challenge } = await api<{ challenge: string }>("GET", "/admin/v1/auth/challenge");
          const challenge_signature = await signChallenge(seed, challenge);
          const r = await api<LoginAnswer>("POST", "/admin/v1/auth", {
            device_address: address, challenge, challenge_signature, timestamp: Math.floor(Date.now() / 1000),
          });
          localStorage.setItem("adminplane.server_name", server.trim());
          setSession(started(r, address, "device"));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="dev-h">Admin device login</h2>
      <p className="muted">The key file holds the hex of the 32-byte Ed25519 seed (<code>.local/admin_device.key</code>). It is read and used in this page only, never sent.</p>
      <label>
        Device key file
        <input
          name="keyfile"
          type="file"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            setError(undefined);
            setSeed(null);
            if (!f) return;
            try {
              setSeed(parseSeed(await f.text()));
              setFileName(f.name);
            } catch (err) {
              setError(err);
            }
          }}
        />
      </label>
      {seed && <p className="muted">Key loaded from {fileName}</p>}
      <label>
        Server name
        <input name="server_name" required value={server} onChange={(e) => setServer(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>Sign challenge and log in</button>
      <ErrorBox error={error} />
    </form>
  );
}

function LoginPage() {
  return (
    <main className="login-page" id="main">
      <h1>Admin control plane</h1>
      <div className="login-grid">
        <OperatorLogin />
        <DeviceLogin />
      </div>
    </main>
  );
}

const NAV: [string, string, (s: Session) => boolean][] = [
  ["/instances", "Instances", (s) => can(s, "view_instances")],
  ["/config", "Config", () => true],
  ["/audit", "Audit log", (s) => can(s, "view_audit")],
  ["/metrics", "Metrics", (s) => can(s, "view_metrics")],
  ["/health", "Health", (s) => can(s, "view_metrics")],
  ["/alerts", "Alerts", (s) => can(s, "view_metrics")],
  ["/moderation", "Moderation", (s) => ["verify_devices", "modify_rate_limits", "block_federation"].some((p) => can(s, p))],
];

function Shell({ s }: { s: Session }) {
  const [location] = useLocation();
  const [menu, setMenu] = useState(false);
  const allowed = NAV.filter(([, , ok]) => ok(s));
  return (
    <>
      <header className="top">
        <a className="skip" href="#main">Skip to content</a>
        <span className="brand">Control plane</span>
        <button className="menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>Menu</button>
        <nav id="nav" aria-label="Pages" className={menu ? "open" : ""}>
          {allowed.map(([href, label]) => (
            <Link key={href} href={href} className={location.startsWith(href) ? "active" : ""} aria-current={location.startsWith(href) ? "page" : undefined} onClick={() => setMenu(false)}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who" title={s.permissions.join(", ")}>
          {s.who} <span className="badge">{s.level}</span>
        </span>
        <button onClick={() => logout()}>Log out</button>
      </header>
      <main id="main">
        <Switch>
          <Route path="/instances/:id">{(p) => guard(s, "view_instances", <InstancePage id={p.id} />)}</Route>
          <Route path="/instances">{guard(s, "view_instances", <InstancesPage />)}</Route>
          <Route path="/config"><ConfigPage /></Route>
          <Route path="/audit">{guard(s, "view_audit", <AuditPage />)}</Route>
          <Route path="/metrics">{guard(s, "view_metrics", <MetricsPage />)}</Route>
          <Route path="/health">{guard(s, "view_metrics", <HealthPage />)}</Route>
          <Route path="/alerts">{guard(s, "view_metrics", <AlertsPage />)}</Route>
          <Route path="/moderation">{guard(s, ["verify_devices", "modify_rate_limits", "block_federation"], <ModerationPage />)}</Route>
          <Route>
            <Home s={s} first={allowed[0]?.[0]} />
          </Route>
        </Switch>
      </main>
    </>
  );
}

/** A page the session's permissions do not open is not shown at all. */
function guard(s: Session, need: string | string[], page: ReactNode) {
  const needs = Array.isArray(need) ? need : [need];
  if (needs.some((p) => can(s, p))) return page;
  return (
    <>
      <h1>Not available</h1>
      <p role="status">This page needs the {needs.join(" or ")} permission; this session has {s.permissions.join(", ") || "none"}.</p>
    </>
  );
}

function Home({ s, first }: { s: Session; first?: string }) {
  const [, navigate] = useLocation();
  if (first) {
    queueMicrotask(() => navigate(first, { replace: true }));
    return null;
  }
  return <p>Logged in as {s.who}; no page is open to the permissions {s.permissions.join(", ") || "(none)"}.</p>;
}

function App() {
  const s = useSession();
  return <Router base="/dashboard">{s ? <Shell s={s} /> : <LoginPage />}</Router>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
