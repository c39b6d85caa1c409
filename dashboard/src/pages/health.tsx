import { api } from "../api";
import { Empty, ErrorBox, Loading, Section, Table, fmtTime, text, useLoad } from "../ui";

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value}`}>{value}</span>;
}

export function HealthPage() {
  const h = useLoad(() => api("GET", "/admin/v1/health"), []);
  return (
    <>
      <h1>Health</h1>
      <button onClick={h.reload}>Refresh</button>
      <ErrorBox error={h.error} />
      {h.loading && !h.data && <Loading />}
      {h.data && (
        <>
          <p>Overall <Status value={h.data.status} /> · version {h.data.version} · up {text(h.data.uptime_seconds)} s · at {fmtTime(h.data.timestamp)}</p>
          <div className="summary-grid">
            {Object.entries(h.data.components as Record<string, any>).map(([name, c]) => (
              <Section key={name} title={name.replace(/_/g, " ")} id={`h-${name}`}>
                <p><Status value={c.status} /></p>
                <dl className="facts">
                  {Object.entries(c).filter(([k]) => k !== "status").map(([k, v]) => (
                    <div key={k} className="fact"><dt>{k.replace(/_/g, " ")}</dt><dd>{text(v)}</dd></div>
                  ))}
                </dl>
              </Section>
            ))}
          </div>
          <Section title="Warnings" id="h-warn">
            {h.data.warnings.length === 0 ? <Empty>No warning.</Empty> : <ul>{h.data.warnings.map((w: unknown, i: number) => <li key={i}>{text(w)}</li>)}</ul>}
          </Section>
        </>
      )}
    </>
  );
}

export function AlertsPage() {
  const a = useLoad(() => api("GET", "/admin/v1/alerts"), []);
  return (
    <>
      <h1>Active alerts</h1>
      <button onClick={a.reload}>Refresh</button>
      <ErrorBox error={a.error} />
      {a.loading && !a.data && <Loading />}
      {a.data && (
        <Table
          rows={a.data.active_alerts}
          empty="No active alert."
          columns={[["severity", "severity", (r) => <Status value={r.severity} />], "component", "message", "started_at", ["details", "details", (r) => text(r.details)]]}
        />
      )}
    </>
  );
}
