/** Settings › Pricing: what each model costs and where that price comes from; admins edit the overrides. */
import { useCallback, useEffect, useId, useState } from "react";
import { PRICE_FIELDS, getPricing, type LongContextView, type ModelPrice, type PricingView } from "../../api/admin";
import { useApiQuery } from "../../api/hooks";
import { useIsAdmin } from "../../app/context";
import { Loaded } from "../../components/States";
import { formatCount, formatMoney } from "../../lib/format";
import { DocumentFacts } from "./DocumentFacts";
import { PriceOverridesEditor } from "./PriceOverridesEditor";
import { PRICE_LABELS, emptyOverride, priceDraft, type PriceDraft } from "./priceDraft";
import { TableWrap } from "./TableWrap";

export function PricingSection() {
  const headingId = useId();
  const query = useApiQuery("pricing", getPricing);
  // The newest document: as loaded, or as the last save answered. `loads` renews the editor on every fresh read.
  const [current, setCurrent] = useState<{ view: PricingView; loads: number }>();
  const [saved, setSaved] = useState<PricingView>();

  useEffect(() => {
    if (query.data) setCurrent((previous) => ({ view: query.data!, loads: (previous?.loads ?? 0) + 1 }));
  }, [query.data]);

  function onSaved(view: PricingView) {
    setSaved(view);
    setCurrent((previous) => ({ view, loads: (previous?.loads ?? 0) + 1 }));
  }

  function reload() {
    setSaved(undefined);
    query.reload();
  }

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Pricing</h2>
      <Loaded query={{ ...query, data: current?.view }} loadingLabel="Loading prices…">
        {(view) => (
          <>
            {saved && (
              <p className="banner-ok" role="status">
                Saved version {saved.version}. Every proxy charges the new prices within {Math.round(saved.refresh_s)} seconds.
              </p>
            )}
            <PricingContent key={current!.loads} view={view} onSaved={onSaved} onReload={reload} />
          </>
        )}
      </Loaded>
    </section>
  );
}

function PricingContent({ view, onSaved, onReload }: { view: PricingView; onSaved(view: PricingView): void; onReload(): void }) {
  const isAdmin = useIsAdmin();
  const [draft, setDraft] = useState<PriceDraft>(() => priceDraft(view.overrides));
  const [focusId, setFocusId] = useState<string | null>(null);
  const onFocused = useCallback(() => setFocusId(null), []);

  function editModel(model: string) {
    const existing = draft.overrides.find((row) => row.model === model);
    if (existing) {
      setFocusId(existing.id);
      return;
    }
    const added = emptyOverride(model);
    setDraft((previous) => ({ ...previous, overrides: [...previous.overrides, added] }));
    setFocusId(added.id);
  }

  return (
    <>
      {view.problem && (
        <p className="state state-error" role="alert">
          {view.problem}
        </p>
      )}
      <div className="panel">
        <DocumentFacts version={view.version} updatedBy={view.updated_by} updatedAt={view.updated_at} refreshSeconds={view.refresh_s}>
          <dt>List prices as of</dt>
          <dd>{view.table_as_of}</dd>
        </DocumentFacts>
      </div>
      <PriceTable models={view.models} onEdit={isAdmin ? editModel : undefined} editing={new Set(draft.overrides.map((row) => row.model))} />
      <MultiplierTable multipliers={view.bedrock_multipliers} overridden={Object.keys(view.overrides.bedrock_multipliers ?? {})} />
      {isAdmin && (
        <PriceOverridesEditor
          view={view}
          draft={draft}
          setDraft={setDraft}
          focusId={focusId}
          onFocused={onFocused}
          onSaved={onSaved}
          onReload={onReload}
          onDiscard={() => setDraft(priceDraft(view.overrides))}
        />
      )}
      <details>
        <summary>Stored overrides as JSON</summary>
        <pre style={{ overflowX: "auto", fontSize: "0.85rem" }}>{JSON.stringify(view.overrides, null, 2)}</pre>
      </details>
    </>
  );
}

function describeLongContext(tier: LongContextView | null): string {
  if (!tier) return "—";
  return `Above ${formatCount(tier.above_input_tokens)} input tokens: input ×${tier.input_factor}, output ×${tier.output_factor}`;
}

function PriceTable({ models, onEdit, editing }: { models: ModelPrice[]; onEdit?: (model: string) => void; editing: Set<string> }) {
  if (models.length === 0) return <p className="state state-empty">The price table is empty.</p>;
  return (
    <TableWrap label="Prices" style={{ marginBottom: "1rem" }}>
      <table>
        <caption>Effective prices, USD per million tokens</caption>
        <thead>
          <tr>
            <th scope="col">Model</th>
            {PRICE_FIELDS.map((field) => (
              <th scope="col" className="num" key={field}>
                {PRICE_LABELS[field]}
              </th>
            ))}
            <th scope="col">Long context</th>
            <th scope="col">Bedrock premium</th>
            <th scope="col">Source</th>
            {onEdit && (
              <th scope="col">
                <span className="visually-hidden">Edit</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.model}>
              <th scope="row">
                <code style={{ whiteSpace: "nowrap" }}>{model.model}</code>
                {model.aliases.length > 0 && <div className="muted" style={{ fontSize: "0.8rem", fontWeight: "normal" }}>also {model.aliases.join(", ")}</div>}
              </th>
              {PRICE_FIELDS.map((field) => (
                <td className="num" key={field}>
                  {formatMoney(model[field], { precise: true })}
                </td>
              ))}
              <td>{describeLongContext(model.long_context)}</td>
              <td>{model.bedrock_geography_premium ? "Charged" : "Not charged"}</td>
              <td>
                {model.overridden ? <span className="badge warn">Override</span> : <span className="badge muted">Built-in</span>}
                <div className="muted" style={{ fontSize: "0.8rem" }}>
                  {model.source}
                </div>
              </td>
              {onEdit && (
                <td>
                  <button type="button" onClick={() => onEdit(model.model)} style={{ whiteSpace: "nowrap" }}>
                    {model.overridden || editing.has(model.model) ? "Edit override" : "Override"}
                    {" "}<span className="visually-hidden">for {model.model}</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function MultiplierTable({ multipliers, overridden }: { multipliers: Record<string, string>; overridden: string[] }) {
  const rows = Object.entries(multipliers).sort(([a], [b]) => a.localeCompare(b));
  return (
    <TableWrap label="Bedrock geography multipliers" style={{ marginBottom: "1rem" }}>
      <table>
        <caption>Bedrock geography multipliers (Bedrock price = list price × multiplier)</caption>
        <thead>
          <tr>
            <th scope="col">Geography</th>
            <th scope="col" className="num">Multiplier</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([geography, multiplier]) => (
            <tr key={geography}>
              <th scope="row">
                <code>{geography}</code>
              </th>
              <td className="num">×{multiplier}</td>
              <td>{overridden.includes(geography) ? <span className="badge warn">Override</span> : <span className="badge muted">Built-in</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
