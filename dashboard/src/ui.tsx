// Small building blocks. Every value from the API is rendered as React text (escaped),
// never as HTML: there is no dangerouslySetInnerHTML anywhere in this app.
import { ReactNode, useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "./api";

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as ApiError;
  const details = Array.isArray(e.details) ? (e.details as any[]) : null;
  return (
    <div className="error" role="alert">
      <strong className="code">{e.code ?? "ERROR"}</strong> <span>{e.message ?? String(error)}</span>
      {details && details.length > 0 && (
        <ul className="problems">
          {details.map((d, i) => (
            <li key={i}>
              {d && typeof d === "object" && "path" in d ? (
                <>
                  <code className="path">{String(d.path || "(root)")}</code> {String(d.message ?? "")}
                </>
              ) : (
                <code>{typeof d === "string" ? d : JSON.stringify(d)}</code>
              )}
            </li>
          ))}
        </ul>
      )}
      {!details && e.details !== undefined && e.details !== null && <pre tabIndex={0} className="json">{JSON.stringify(e.details, null, 2)}</pre>}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Loading() {
  return <p className="muted" aria-live="polite">Loading…</p>;
}

/** load() on mount and whenever deps change; reload() to run it again */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(() => {
    const n = ++seq.current;
    setLoading(true);
    load().then(
      (d) => n === seq.current && (setData(d), setError(undefined), setLoading(false)),
      (e) => n === seq.current && (setError(e), setLoading(false)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return { data, error, loading, reload: run, setData };
}

export function fmtTime(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "number") return new Date(v * 1000).toISOString().replace(".000Z", "Z");
  return String(v);
}

export function text(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A collapsible, read-only view of any JSON value (text only). */
export function JsonTree({ value, name, open = 1 }: { value: unknown; name?: string; open?: number }) {
  if (value === null || typeof value !== "object") {
    return (
      <div className="jt-leaf">
        {name !== undefined && <span className="jt-key">{name}: </span>}
        <span className={`jt-${value === null ? "null" : typeof value}`}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as object);
  const label = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return (
    <details className="jt" open={open > 0}>
      <summary>
        {name !== undefined && <span className="jt-key">{name} </span>}
        <span className="muted">{label}</span>
      </summary>
      <div className="jt-children">
        {entries.map(([k, v]) => (
          <JsonTree key={k} name={k} value={v} open={open - 1} />
        ))}
      </div>
    </details>
  );
}

export function Table({ rows, columns, empty, actions }: {
  rows: any[];
  columns: (string | [string, string, ((row: any) => ReactNode)?])[];
  empty: string;
  actions?: (row: any) => ReactNode;
}) {
  if (!rows.length) return <Empty>{empty}</Empty>;
  const cols = columns.map((c) => (typeof c === "string" ? [c, c.replace(/_/g, " ")] as [string, string] : c));
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="table">
      <table>
        <thead>
          <tr>
            {cols.map(([k, label]) => (
              <th key={k} scope="col">{label}</th>
            ))}
            {actions && <th scope="col">actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.id ?? i}>
              {cols.map(([k, , render]) => (
                <td key={k} data-label={k}>{render ? render(r) : /(_at|timestamp|first_seen|last_seen)$/.test(k) ? fmtTime(r[k]) : text(r[k])}</td>
              ))}
              {actions && <td className="actions">{actions(r)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A button that asks before a destructive act, saying what it will do. */
export function ConfirmButton({ label, what, onConfirm, danger = true }: {
  label: string;
  what: string;
  onConfirm: () => Promise<unknown> | void;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  if (!asking) return <button className={danger ? "danger" : ""} onClick={() => setAsking(true)}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={`Confirm ${label}`}>
      <span>{what}</span>{" "}
      <button
        className="danger"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
            setAsking(false);
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        Yes, {label.toLowerCase()}
      </button>{" "}
      <button onClick={() => setAsking(false)}>Cancel</button>
      <ErrorBox error={error} />
    </span>
  );
}

export function Pager({ hasMore, onMore, label = "Next page" }: { hasMore: boolean; onMore: () => void; label?: string }) {
  return hasMore ? <button onClick={onMore}>{label}</button> : null;
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}
