import { useState } from "react";
import { api } from "../api";
import { ErrorBox, Loading, Table, fmtTime, useLoad } from "../ui";

const FILTERS = ["action", "admin", "target"] as const;

function toUnix(v: string): number | undefined {
  return v ? Math.floor(new Date(v).getTime() / 1000) : undefined;
}

export function AuditPage() {
  const [form, setForm] = useState<Record<string, string>>({});
  const [q, setQ] = useState<Record<string, string>>({});
  const [offset, setOffset] = useState(0);
  const [limit, setLimit] = useState(50);
  const [error, setError] = useState<unknown>();
  const query = () => ({ action: q.action, admin: q.admin, target: q.target, since: toUnix(q.since), until: toUnix(q.until) });
  const list = useLoad(() => api("GET", "/admin/v1/audit", undefined, { query: { ...query(), limit, offset } }), [JSON.stringify(q), offset, limit]);

  const exportAll = async (format: "csv" | "json") => {
    setError(undefined);
    try {
      let body = "";
      if (format === "csv") {
        body = await api<string>("GET", "/admin/v1/audit/export", undefined, { raw: true, query: { ...query(), format } });
      } else {
        const entries: unknown[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await api("GET", "/admin/v1/audit/export", undefined, { query: { ...query(), format, cursor } });
          entries.push(...page.entries);
          cursor = page.next_cursor;
        } while (cursor);
        body = JSON.stringify(entries, null, 2);
      }
      const url = URL.createObjectURL(new Blob([body], { type: format === "csv" ? "text/csv" : "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `audit.${format}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <h1>Audit log</h1>
      <form className="row card" onSubmit={(e) => { e.preventDefault(); setOffset(0); setQ({ ...form }); }}>
        {FILTERS.map((f) => (
          <label key={f}>{f} <input name={f} value={form[f] ?? ""} onChange={(e) => setForm({ ...form, [f]: e.target.value })} /></label>
        ))}
        <label>since <input name="since" type="datetime-local" value={form.since ?? ""} onChange={(e) => setForm({ ...form, since: e.target.value })} /></label>
        <label>until <input name="until" type="datetime-local" value={form.until ?? ""} onChange={(e) => setForm({ ...form, until: e.target.value })} /></label>
        <label>per page <select value={limit} onChange={(e) => { setOffset(0); setLimit(Number(e.target.value)); }}>{[25, 50, 100, 500].map((n) => <option key={n}>{n}</option>)}</select></label>
        <button type="submit">Apply filters</button>
        <button type="button" onClick={() => exportAll("csv")}>Export CSV</button>
        <button type="button" onClick={() => exportAll("json")}>Export JSON</button>
      </form>
      <ErrorBox error={error} />
      <ErrorBox error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <>
          <p className="muted">{list.data.total_count} entries match; showing {offset + 1}–{offset + list.data.entries.length}</p>
          <Table
            rows={list.data.entries}
            empty="No audit entry matches."
            columns={[
              ["timestamp", "time", (r) => fmtTime(r.timestamp)], "action", "admin", "target",
              ["details", "details", (r) => <code className="details">{JSON.stringify(r.details)}</code>],
              "ip_address",
            ]}
          />
          <div className="row">
            {offset > 0 && <button onClick={() => setOffset(Math.max(0, offset - limit))}>Previous page</button>}
            {list.data.has_more && <button onClick={() => setOffset(list.data.next_offset)}>Next page</button>}
          </div>
        </>
      )}
    </>
  );
}
