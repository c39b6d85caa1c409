import { useEffect, useState } from "react";
import { api, can, useSession } from "../api";
import { ConfirmButton, ErrorBox, Loading, Section, Table, useLoad } from "../ui";

type Kind = { key: string; label: string; path: string; list: string; perm: string; filters: string[]; columns: string[]; id?: string };

const KINDS: Kind[] = [
  { key: "jobs", label: "Jobs", path: "jobs", list: "jobs", perm: "manage_ops", filters: ["kind", "status"], columns: ["id", "kind", "status", "requested_at", "requested_by", "completed_at"] },
  { key: "backups", label: "Backups", path: "backups", list: "backups", perm: "manage_ops", filters: [], columns: ["id", "status", "requested_at", "requested_by", "events", "size", "offsite_status", "completed_at"] },
  { key: "checkpoints", label: "Checkpoints", path: "checkpoints", list: "checkpoints", perm: "manage_ops", filters: ["aggregate_type", "aggregate_id"], columns: ["id", "aggregate_type", "aggregate_id", "length", "spec_version", "handlers_current", "created_at"] },
  { key: "root", label: "Root checkpoints", path: "root-checkpoints", list: "root_checkpoints", perm: "manage_ops", filters: ["aggregate_type"], columns: ["id", "aggregate_type", "status", "count", "size", "cut_at", "completed_at"] },
  { key: "blobs", label: "Blobs", path: "blobs", list: "blobs", perm: "manage_ops", filters: [], columns: ["name", "size", "content_type", "sha256", "created_at"] },
  { key: "scheduled", label: "Scheduled events", path: "scheduled", list: "scheduled", perm: "manage_ops", filters: ["status", "aggregate_type", "aggregate_id"], columns: ["id", "status", "aggregate_type", "aggregate_id", "event_type", "due_at", "attempts"] },
  { key: "dead", label: "Dead letters", path: "scheduled/dead", list: "dead_letters", perm: "manage_ops", filters: ["aggregate_type", "aggregate_id"], columns: ["id", "status", "aggregate_type", "aggregate_id", "event_type", "due_at", "attempts"] },
  { key: "sagas", label: "Sagas", path: "sagas", list: "sagas", perm: "manage_ops", filters: ["name", "status"], columns: ["id", "saga", "status", "current_step", "error", "updated_at"] },
  { key: "deliveries", label: "Deliveries", path: "deliveries", list: "deliveries", perm: "manage_ops", filters: ["status", "listener", "event_type", "aggregate_type"], columns: ["id", "listener", "status", "event_type", "aggregate_id", "attempt_count", "dead_letter"] },
  { key: "tombstones", label: "Tombstones", path: "tombstones", list: "tombstones", perm: "erase_data", filters: ["status", "aggregate_type"], columns: ["id", "aggregate_type", "aggregate_id", "status", "reason", "requested_by", "executable_at"] },
];

export function OpsPanel({ id }: { id: string }) {
  const s = useSession();
  const [env, setEnv] = useState("prod");
  const kinds = KINDS.filter((k) => can(s, k.perm));
  const [kind, setKind] = useState(kinds[0]?.key ?? "");
  const k = kinds.find((x) => x.key === kind) ?? kinds[0];
  return (
    <Section title="Operations" id="ops">
      <div className="row">
        <label>Environment <select value={env} onChange={(e) => setEnv(e.target.value)}>{["prod", "staging", "test"].map((x) => <option key={x}>{x}</option>)}</select></label>
        <label>List <select value={k?.key} onChange={(e) => setKind(e.target.value)}>{kinds.map((x) => <option key={x.key} value={x.key}>{x.label}</option>)}</select></label>
      </div>
      {can(s, "manage_ops") && <ErrorLookup base={`/api/instances/${encodeURIComponent(id)}/ops/${env}`} />}
      {k && <OpsList key={`${k.key}/${env}`} kind={k} base={`/api/instances/${encodeURIComponent(id)}/ops/${env}`} />}
    </Section>
  );
}

function OpsList({ kind, base }: { kind: Kind; base: string }) {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [applied, setApplied] = useState<Record<string, string>>({});
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(() => api("GET", `${base}/${kind.path}`, undefined, { query: { ...applied, limit: 25, cursor } }), [base, kind.path, JSON.stringify(applied), cursor]);
  const [error, setError] = useState<unknown>();
  const [watch, setWatch] = useState<{ id: string; url: string } | null>(null);
  const rows: any[] = list.data?.[kind.list] ?? [];
  return (
    <div>
      <h3>{kind.label}</h3>
      {kind.filters.length > 0 && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); setCursors([null]); setApplied({ ...filters }); }}>
          {kind.filters.map((f) => (
            <label key={f}>{f.replace(/_/g, " ")} <input value={filters[f] ?? ""} onChange={(e) => setFilters({ ...filters, [f]: e.target.value })} /></label>
          ))}
          <button type="submit">Filter</button>
        </form>
      )}
      {kind.key === "backups" && (
        <button onClick={async () => {
          setError(undefined);
          try {
            const r = await api("POST", `${base}/backups`, {});
            if (r?.status_url) setWatch({ id: r.backup?.id ?? r.job_id, url: r.status_url });
            list.reload();
          } catch (e) { setError(e); }
        }}>Start a backup</button>
      )}
      {watch && <JobProgress key={watch.id} url={watch.url} label={watch.id} onDone={list.reload} />}
      <ErrorBox error={error} />
      <ErrorBox error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <Table
          rows={rows}
          empty={`No ${kind.label.toLowerCase()} here.`}
          columns={kind.columns}
          actions={(r) => <RowActions kind={kind} base={base} row={r} onChange={list.reload} onWatch={(id) => setWatch({ id, url: `${base}/jobs/${encodeURIComponent(id)}` })} />}
        />
      )}
      <div className="row">
        {cursors.length > 1 && <button onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>}
        {list.data?.next_cursor && <button onClick={() => setCursors([...cursors, list.data.next_cursor])}>Next page</button>}
      </div>
    </div>
  );
}

function RowActions({ kind, base, row, onChange, onWatch }: { kind: Kind; base: string; row: any; onChange: () => void; onWatch: (id: string) => void }) {
  const rid = encodeURIComponent(row.id ?? row.name ?? "");
  const post = (p: string) => api("POST", `${base}/${kind.path}/${rid}/${p}`, {}).then(onChange);
  const del = () => api("DELETE", `${base}/${kind.path}/${rid}`).then(onChange);
  switch (kind.key) {
    case "jobs":
      return (<>
        {typeof row.progress?.percent === "number" && <progress max={100} value={row.progress.percent} aria-label={`Job ${row.id} progress`} />}{" "}
        {row.status === "running" || row.status === "pending" || row.status === "queued" ? <button onClick={() => onWatch(row.id)}>Watch progress</button> : null}
      </>);
    case "backups":
      return (<>
        <ConfirmButton label="Restore" what={`Restore backup ${row.id} into this environment (a long job).`} onConfirm={() => post("restore")} />{" "}
        <ConfirmButton label="Delete" what={`Delete backup ${row.id} for good.`} onConfirm={del} />
      </>);
    case "checkpoints":
      return (<>
        <ConfirmButton label="Restore" what={`Replace ${row.aggregate_type}/${row.aggregate_id}'s state with checkpoint ${row.id}.`} onConfirm={() => post("restore")} />{" "}
        <ConfirmButton label="Delete" what={`Delete checkpoint ${row.id}.`} onConfirm={del} />
      </>);
    case "root":
      return <ConfirmButton label="Delete" what={`Delete root checkpoint ${row.id}.`} onConfirm={del} />;
    case "scheduled":
      return (<>
        <ConfirmButton label="Cancel" what={`Cancel scheduled event ${row.id}; it will not be appended.`} onConfirm={() => post("cancel")} />{" "}
        <ConfirmButton danger={false} label="Retry" what={`Retry scheduled event ${row.id} now.`} onConfirm={() => post("retry")} />
      </>);
    case "dead":
      return <ConfirmButton danger={false} label="Retry" what={`Retry dead event ${row.id} now.`} onConfirm={() => api("POST", `${base}/scheduled/${rid}/retry`, {}).then(onChange)} />;
    case "sagas":
      return <ConfirmButton danger={false} label="Retry" what={`Retry saga ${row.id} from its failed step.`} onConfirm={() => post("retry")} />;
    case "deliveries":
      return <ConfirmButton danger={false} label="Retry" what={`Send delivery ${row.id} again.`} onConfirm={() => post("retry")} />;
    case "tombstones":
      return (<>
        <ConfirmButton label="Execute" what={`Erase ${row.aggregate_type}/${row.aggregate_id} for good (cannot be undone).`} onConfirm={() => post("execute")} />{" "}
        <ConfirmButton danger={false} label="Cancel" what={`Cancel tombstone ${row.id}; the data stays.`} onConfirm={del} />
      </>);
  }
  return null;
}

/** A long job's live state, polled each second from its status URL until it ends. */
export function JobProgress({ url, label, onDone }: { url: string; label: string; onDone?: () => void }) {
  const [job, setJob] = useState<any>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let stop = false;
    let timer: number;
    const tick = async () => {
      try {
        const got = await api("GET", url);
        const j = got?.job ?? got?.backup ?? got;
        if (stop) return;
        setJob(j);
        if (["completed", "failed", "cancelled"].includes(j?.status)) return onDone?.();
      } catch (e) {
        if (!stop) setError(e);
        return;
      }
      timer = window.setTimeout(tick, 1000);
    };
    tick();
    return () => { stop = true; window.clearTimeout(timer); };
  }, [url]);
  const pct = job?.progress?.percent;
  return (
    <div className="job" role="status" aria-live="polite">
      {label}: <strong>{job?.status ?? "…"}</strong>
      {typeof pct === "number" && <> <progress max={100} value={pct} aria-label={`${label} progress`} /> {pct.toFixed(1)}%</>}
      {job?.error && <span className="error-text"> {typeof job.error === "string" ? job.error : JSON.stringify(job.error)}</span>}
      <ErrorBox error={error} />
    </div>
  );
}

function ErrorLookup({ base }: { base: string }) {
  const [eid, setEid] = useState("");
  const [found, setFound] = useState<any>();
  const [error, setError] = useState<unknown>();
  return (
    <form className="row" onSubmit={async (e) => {
      e.preventDefault(); setError(undefined); setFound(undefined);
      try { setFound(await api("GET", `${base}/errors/${encodeURIComponent(eid.trim())}`)); } catch (err) { setError(err); }
    }}>
      <label>Error id <input value={eid} onChange={(e) => setEid(e.target.value)} /></label>
      <button type="submit">Look up error</button>
      <ErrorBox error={error} />
      {found && <pre tabIndex={0} className="json">{JSON.stringify(found, null, 2)}</pre>}
    </form>
  );
}
