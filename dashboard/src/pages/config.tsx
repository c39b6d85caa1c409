import { useMemo, useState } from "react";
import { api, can, useSession } from "../api";
import { ErrorBox, Loading, Section, useLoad } from "../ui";

// The bounds, read-only marks and restart notes come from the API's own description.
let openapi: Promise<any> | null = null;
export function openapiDoc() {
  openapi ??= api("GET", "/openapi.json");
  return openapi;
}

type FieldSchema = { type: string; minimum?: number; maximum?: number; readOnly?: boolean; description?: string };

export function ConfigPage() {
  const s = useSession();
  const editable = can(s, "manage_config");
  const cfg = useLoad(() => api("GET", "/admin/v1/config"), []);
  const schema = useLoad(async () => {
    const doc = await openapiDoc();
    return doc.paths["/admin/v1/config"].get.responses["200"].content["application/json"].schema.properties as Record<string, { properties: Record<string, FieldSchema> }>;
  }, []);
  const [draft, setDraft] = useState<Record<string, string | boolean>>({});
  const [error, setError] = useState<any>();
  const [result, setResult] = useState<any>();

  const problems = useMemo(() => {
    const out: Record<string, string> = {};
    if (!schema.data) return out;
    for (const [path, v] of Object.entries(draft)) {
      const [sec, f] = path.split(".");
      const fs = schema.data[sec]?.properties[f];
      if (!fs || typeof v === "boolean") continue;
      if (fs.type === "integer" || fs.type === "number") {
        const n = Number(v);
        if (v === "" || !Number.isFinite(n)) out[path] = "must be a number";
        else if (fs.type === "integer" && !Number.isInteger(n)) out[path] = "must be a whole number";
        else if (fs.minimum !== undefined && (n < fs.minimum || n > (fs.maximum ?? Infinity))) out[path] = `must be between ${fs.minimum} and ${fs.maximum}`;
      }
    }
    return out;
  }, [draft, schema.data]);

  // the API names each refused field in details [{path, message}]
  const serverField = (path: string): string => {
    if (!error) return "";
    if (Array.isArray(error.details)) {
      const hit = error.details.find((d: any) => d?.path === path);
      return hit ? String(hit.message) : "";
    }
    return typeof error.message === "string" && error.message.includes(path) ? error.message : "";
  };

  if (cfg.error || schema.error) return <><h1>Server configuration</h1><ErrorBox error={cfg.error || schema.error} /></>;
  if (!cfg.data || !schema.data) return <><h1>Server configuration</h1><Loading /></>;
  const changed = Object.keys(draft).length > 0;
  return (
    <>
      <h1>Server configuration</h1>
      {!editable && <p className="muted">Read only: changing the configuration needs the manage_config permission.</p>}
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (Object.keys(problems).length) return;
          const patch: Record<string, Record<string, unknown>> = {};
          for (const [path, v] of Object.entries(draft)) {
            const [sec, f] = path.split(".");
            const fs = schema.data![sec].properties[f];
            (patch[sec] ??= {})[f] = typeof v === "boolean" ? v : fs.type === "string" ? v : Number(v);
          }
          setError(undefined);
          setResult(undefined);
          try {
            setResult(await api("PATCH", "/admin/v1/config", patch));
            setDraft({});
            cfg.reload();
          } catch (err) {
            setError(err);
          }
        }}
      >
        {Object.entries(schema.data).map(([sec, secSchema]) => (
          <Section key={sec} title={sec.replace(/_/g, " ")} id={`cfg-${sec}`}>
            <div className="form-grid">
              {Object.entries(secSchema.properties).map(([f, fs]) => {
                const path = `${sec}.${f}`;
                const current = cfg.data[sec]?.[f];
                const value = path in draft ? draft[path] : current;
                const ro = !editable || fs.readOnly;
                const restart = (fs.description ?? "").includes("restart");
                const problem = problems[path] || serverField(path);
                const inputId = `cfg-${sec}-${f}`;
                return (
                  <div key={f} className={`field${problem ? " invalid" : ""}`}>
                    <label htmlFor={inputId}>
                      {f.replace(/_/g, " ")}
                      {restart && <span className="badge warn" title="changing it requires a restart">requires restart</span>}
                      {fs.readOnly && <span className="badge">read only</span>}
                    </label>
                    {fs.type === "boolean" ? (
                      <input id={inputId} name={path} type="checkbox" disabled={ro} checked={!!value} onChange={(e) => setDraft({ ...draft, [path]: e.target.checked })} />
                    ) : (
                      <input id={inputId} name={path} type={fs.type === "string" ? "text" : "number"} readOnly={ro} disabled={!editable} min={fs.minimum} max={fs.maximum} step={fs.type === "integer" ? 1 : "any"}
                        aria-invalid={!!problem} aria-describedby={`${inputId}-hint`}
                        value={String(value ?? "")} onChange={(e) => setDraft({ ...draft, [path]: e.target.value })} />
                    )}
                    <small id={`${inputId}-hint`} className={problem ? "error-text" : "muted"}>
                      {problem || (fs.minimum !== undefined ? `${fs.minimum} – ${fs.maximum}` : "")}
                    </small>
                  </div>
                );
              })}
            </div>
          </Section>
        ))}
        {editable && (
          <div className="row sticky">
            <button type="submit" disabled={!changed || Object.keys(problems).length > 0}>Save changes</button>
            <button type="button" disabled={!changed} onClick={() => setDraft({})}>Discard</button>
          </div>
        )}
      </form>
      <ErrorBox error={error} />
      {result && (
        <p className="ok" role="status">
          Saved: {result.updated_fields.length ? result.updated_fields.join(", ") : "nothing changed"}.
          {result.requires_restart && <strong> A restart is required for these changes to take effect.</strong>}
        </p>
      )}
    </>
  );
}
