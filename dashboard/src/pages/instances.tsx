import { useState } from "react";
import { Link } from "wouter";
import { diffLines } from "diff";
import { api, can, useSession } from "../api";
import { ConfirmButton, Empty, ErrorBox, JsonTree, Loading, Pager, Section, Table, fmtTime, useLoad } from "../ui";
import { OpsPanel } from "./ops";

const PLANS = ["free", "hobby", "pro", "scale"];
const ENVS = ["prod", "staging", "test"];

export function InstancesPage() {
  const s = useSession();
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(() => api("GET", "/api/instances", undefined, { query: { limit: 50, cursor } }), [cursor]);
  return (
    <>
      <h1>Instances</h1>
      {can(s, "manage_instances") && <CreateInstance onCreated={list.reload} />}
      <Section title="All instances" id="inst-list">
        <ErrorBox error={list.error} />
        {list.loading && !list.data ? <Loading /> : list.data && (
          <>
            <Table
              rows={list.data.instances}
              empty="No instance yet."
              columns={[["name", "name", (r) => <Link href={`/instances/${encodeURIComponent(r.id)}`}>{r.name}</Link>], "id", "plan", "tier", "created_at"]}
            />
            {cursor && <button onClick={() => setCursor(null)}>First page</button>}{" "}
            <Pager hasMore={!!list.data.next_cursor} onMore={() => setCursor(list.data.next_cursor)} />
          </>
        )}
      </Section>
    </>
  );
}

function CreateInstance({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [plan, setPlan] = useState("free");
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<any>();
  return (
    <Section title="Create an instance" id="inst-create">
      <form
        className="row"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            setCreated(await api("POST", "/api/instances", { name, plan }));
            setName("");
            onCreated();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label>Name <input name="instance_name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Plan
          <select name="plan" value={plan} onChange={(e) => setPlan(e.target.value)}>
            {PLANS.map((p) => <option key={p}>{p}</option>)}
          </select>
        </label>
        <button type="submit">Create instance</button>
      </form>
      <ErrorBox error={error} />
      {created && <p className="ok" role="status">Created <Link href={`/instances/${encodeURIComponent(created.id)}`}>{created.name}</Link> ({created.id})</p>}
    </Section>
  );
}

export function InstancePage({ id }: { id: string }) {
  const s = useSession();
  const inst = useLoad(() => api("GET", `/api/instances/${encodeURIComponent(id)}`), [id]);
  const [tab, setTab] = useState("specs");
  const tabs = [
    ["specs", "Specs", true],
    ["keys", "API keys", can(s, "manage_keys")],
    ["ops", "Operations", can(s, "manage_ops") || can(s, "erase_data")],
  ].filter((t) => t[2]) as [string, string, boolean][];
  return (
    <>
      <p><Link href="/instances">← Instances</Link></p>
      <ErrorBox error={inst.error} />
      {inst.loading && !inst.data && <Loading />}
      {inst.data && (
        <>
          <h1>{inst.data.name}</h1>
          <PlanUsage inst={inst.data} />
          <div role="tablist" aria-label="Instance sections" className="tabs">
            {tabs.map(([k, label]) => (
              <button key={k} role="tab" aria-selected={tab === k} onClick={() => setTab(k)}>{label}</button>
            ))}
          </div>
          {tab === "specs" && <Specs id={id} />}
          {tab === "keys" && can(s, "manage_keys") && <Keys id={id} onChange={inst.reload} />}
          {tab === "ops" && <OpsPanel id={id} />}
        </>
      )}
    </>
  );
}

function Meter({ label, used, limit }: { label: string; used: number; limit: number | null }) {
  return (
    <div className="meter">
      <span>{label}: {used}{limit !== null ? ` / ${limit}` : " (no limit)"}</span>
      {limit !== null && limit > 0 && <progress max={limit} value={Math.min(used, limit)} aria-label={label} />}
    </div>
  );
}

function PlanUsage({ inst }: { inst: any }) {
  const m = inst.usage.this_month;
  return (
    <Section title="Plan and usage" id="plan">
      <dl className="facts">
        <dt>id</dt><dd>{inst.id}</dd>
        <dt>plan</dt><dd>{inst.plan} ({inst.tier})</dd>
        <dt>created</dt><dd>{fmtTime(inst.created_at)} by {inst.created_by}</dd>
        <dt>writes / reads per minute</dt><dd>{inst.limits.writes_per_minute} / {inst.limits.reads_per_minute}</dd>
        <dt>backups retained</dt><dd>{inst.limits.backups_retained}</dd>
      </dl>
      <Meter label={`Events this month (${m.month})`} used={m.events_total} limit={m.allowance ?? null} />
      <Meter label="Active API keys" used={inst.usage.api_keys_active} limit={inst.limits.api_keys} />
      <p className="muted">Events stored: {ENVS.map((e) => `${e} ${inst.usage.events[e]}`).join(", ")} (total {inst.usage.events_total})</p>
    </Section>
  );
}

function pretty(v: unknown) {
  return JSON.stringify(v, null, 2);
}

function Diff({ before, after, label }: { before: string; after: string; label: string }) {
  const parts = diffLines(before, after);
  const changed = parts.some((p) => p.added || p.removed);
  return (
    <div className="diff" aria-label={label} role="region">
      {!changed && <Empty>No difference.</Empty>}
      {changed && (
        <pre tabIndex={0}>
          {parts.map((p, i) => (
            <span key={i} className={p.added ? "add" : p.removed ? "del" : "same"}>
              {p.value.split("\n").filter((l, j, a) => j < a.length - 1 || l !== "").map((l) => `${p.added ? "+ " : p.removed ? "- " : "  "}${l}\n`).join("")}
            </span>
          ))}
        </pre>
      )}
    </div>
  );
}

function Specs({ id }: { id: string }) {
  const s = useSession();
  const [env, setEnv] = useState("prod");
  // versions seen in this page: the API serves the deployed spec only (no history route),
  // so the history is what this page has seen deployed or loaded, newest last
  const [history, setHistory] = useState<Record<string, any[]>>({});
  const spec = useLoad(async () => {
    try {
      const got = await api("GET", `/api/instances/${encodeURIComponent(id)}/spec`, undefined, { query: { environment: env } });
      setHistory((h) => {
        const seen = h[env] ?? [];
        return seen.some((v) => v.version === got.version) ? h : { ...h, [env]: [...seen, got].sort((a, b) => a.version - b.version) };
      });
      return got;
    } catch (e: any) {
      if (e.status === 404) return null;
      throw e;
    }
  }, [id, env]);
  const versions = history[env] ?? [];
  const [a, setA] = useState<number | "">("");
  const [b, setB] = useState<number | "">("");
  const va = versions.find((v) => v.version === a) ?? versions[versions.length - 2];
  const vb = versions.find((v) => v.version === b) ?? versions[versions.length - 1];
  return (
    <Section title="Specs" id="specs">
      <div className="row" role="group" aria-label="Environment">
        {ENVS.map((e) => (
          <button key={e} aria-pressed={env === e} onClick={() => setEnv(e)}>{e}</button>
        ))}
      </div>
      <ErrorBox error={spec.error} />
      {spec.loading && spec.data === undefined && <Loading />}
      {spec.data === null && <Empty>No spec deployed in {env}.</Empty>}
      {spec.data && (
        <div className="spec-view">
          <p>
            Version <strong data-testid="spec-version">{spec.data.version}</strong> deployed {fmtTime(spec.data.deployed_at)} by {spec.data.deployed_by}
          </p>
          <div className="tree" data-testid="spec-tree" tabIndex={0} role="region" aria-label="Deployed spec"><JsonTree value={spec.data.spec} open={3} /></div>
        </div>
      )}
      {versions.length > 1 && (
        <div className="versions">
          <h3>Version diff</h3>
          <div className="row">
            <label>From <select value={va?.version ?? ""} onChange={(e) => setA(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select></label>
            <label>To <select value={vb?.version ?? ""} onChange={(e) => setB(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select></label>
          </div>
          {va && vb && <Diff before={pretty(va.spec)} after={pretty(vb.spec)} label={`Diff v${va.version} to v${vb.version}`} />}
          <p className="muted">The API serves the deployed version only; the versions listed are those seen in this page.</p>
        </div>
      )}
      {can(s, "deploy_spec") && <Deploy id={id} env={env} current={spec.data} onDeployed={spec.reload} />}
    </Section>
  );
}

function Deploy({ id, env, current, onDeployed }: { id: string; env: string; current: any; onDeployed: () => void }) {
  const [draft, setDraft] = useState("");
  const [force, setForce] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<any>();
  const [showDiff, setShowDiff] = useState(false);
  let parsed: unknown;
  let parseError = "";
  try {
    parsed = draft.trim() ? JSON.parse(draft) : undefined;
  } catch (e) {
    parseError = String((e as Error).message);
  }
  return (
    <div className="deploy">
      <h3>Deploy a spec to {env}</h3>
      <label htmlFor="spec-draft">Spec (JSON: the spec itself, or {"{\"spec\": …}"})</label>
      <textarea id="spec-draft" name="spec" rows={12} spellCheck={false} value={draft} onChange={(e) => setDraft(e.target.value)} />
      {parseError && <p className="error" role="alert">Not JSON: {parseError}</p>}
      <div className="row">
        {current && <button type="button" onClick={() => setDraft(pretty(current.spec))}>Start from deployed</button>}
        {current && parsed !== undefined && <button type="button" onClick={() => setShowDiff(!showDiff)}>{showDiff ? "Hide" : "Show"} diff against deployed</button>}
        {env !== "prod" && <label className="inline"><input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> force (orphans stored events)</label>}
        <button
          type="button"
          disabled={parsed === undefined}
          onClick={async () => {
            setError(undefined);
            setDone(undefined);
            const obj = parsed as any;
            const specBody = obj && typeof obj === "object" && "spec" in obj && !("aggregate_types" in obj) ? obj.spec : obj;
            try {
              setDone(await api("POST", `/api/instances/${encodeURIComponent(id)}/spec`, { environment: env, spec: specBody, ...(force ? { force } : {}) }));
              onDeployed();
            } catch (e) {
              setError(e);
            }
          }}
        >
          Deploy to {env}
        </button>
      </div>
      {showDiff && current && parsed !== undefined && <Diff before={pretty(current.spec)} after={pretty((parsed as any).spec && !(parsed as any).aggregate_types ? (parsed as any).spec : parsed)} label="Draft against deployed" />}
      <ErrorBox error={error} />
      {done && <p className="ok" role="status">Deployed version {done.version} to {done.environment}{done.orphaned?.length ? `; orphaned: ${done.orphaned.join(", ")}` : ""}</p>}
    </div>
  );
}

function Keys({ id, onChange }: { id: string; onChange: () => void }) {
  const keys = useLoad(() => api("GET", `/api/instances/${encodeURIComponent(id)}/keys`), [id]);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [env, setEnv] = useState("prod");
  const [shown, setShown] = useState<any>();
  const [error, setError] = useState<unknown>();
  const [copied, setCopied] = useState(false);
  const changed = () => {
    keys.reload();
    onChange();
  };
  return (
    <Section title="API keys" id="keys">
      <form
        className="row"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            setShown(await api("POST", `/api/instances/${encodeURIComponent(id)}/keys`, { name, scope, environment: env }));
            setCopied(false);
            setName("");
            changed();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label>Name <input name="key_name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Scope <select name="scope" value={scope} onChange={(e) => setScope(e.target.value)}>{["read", "write", "admin"].map((x) => <option key={x}>{x}</option>)}</select></label>
        <label>Environment <select name="environment" value={env} onChange={(e) => setEnv(e.target.value)}>{ENVS.map((x) => <option key={x}>{x}</option>)}</select></label>
        <button type="submit">Create key</button>
      </form>
      <ErrorBox error={error} />
      {shown && (
        <div className="secret" role="alert" data-testid="new-key">
          <p><strong>Copy this key now: it is shown once and never again.</strong> ({shown.name}{shown.rotated_from ? `, replaces ${shown.rotated_from}; the old key works until ${fmtTime(shown.old_key_revoke_at)}` : ""})</p>
          <code className="keytext">{shown.key}</code>{" "}
          <button onClick={async () => {
            try { await navigator.clipboard.writeText(shown.key); setCopied(true); } catch { setCopied(false); }
          }}>Copy</button>{copied && <span role="status"> Copied</span>}{" "}
          <button onClick={() => setShown(undefined)}>I have stored it</button>
        </div>
      )}
      <ErrorBox error={keys.error} />
      {keys.data && (
        <Table
          rows={keys.data.keys}
          empty="No API key yet."
          columns={["name", "prefix", "scope", "environment", "created_at", "last_used_at", "revoke_at", "revoked_at"]}
          actions={(k) => k.revoked_at ? <span className="muted">revoked</span> : (
            <KeyActions k={k} onShown={(x) => { setShown(x); setCopied(false); }} onChange={changed} />
          )}
        />
      )}
    </Section>
  );
}

function KeyActions({ k, onShown, onChange }: { k: any; onShown: (x: any) => void; onChange: () => void }) {
  const [grace, setGrace] = useState("3600");
  const [at, setAt] = useState("");
  const [error, setError] = useState<unknown>();
  const run = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try { await f(); onChange(); } catch (e) { setError(e); throw e; }
  };
  return (
    <div className="key-actions">
      <span className="row">
        <label>Grace (s) <input aria-label={`Grace seconds for ${k.name}`} type="number" min={0} max={2592000} value={grace} onChange={(e) => setGrace(e.target.value)} size={7} /></label>
        <ConfirmButton danger={false} label="Rotate" what={`A new key replaces ${k.prefix}…; the old one keeps working ${grace || 0} s.`}
          onConfirm={() => run(async () => onShown(await api("POST", `/api/keys/${encodeURIComponent(k.id)}/rotate`, { grace_period_seconds: Number(grace || 0) })))} />
      </span>
      <span className="row">
        <label>Revoke at <input aria-label={`Revocation time for ${k.name}`} type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} /></label>
        <button disabled={!at} onClick={() => run(() => api("POST", `/api/keys/${encodeURIComponent(k.id)}/schedule_revocation`, { revoke_at: new Date(at).toISOString() })).catch(() => {})}>Schedule revocation</button>
      </span>
      <ConfirmButton label="Revoke" what={`Key ${k.prefix}… (${k.name}) stops working at once.`} onConfirm={() => run(() => api("DELETE", `/api/keys/${encodeURIComponent(k.id)}`))} />
      <ErrorBox error={error} />
    </div>
  );
}
