/** Settings › Pricing: what each model costs and where that price comes from; admins edit the overrides. */
import { useState } from "react";
import { PRICE_FIELDS, getPricing, type LongContextView, type ModelPrice, type PricingView } from "../../api/admin";
import { useIsAdmin } from "../../app/context";
import { TableWrap } from "../../components/TableWrap";
import { formatCount, formatMoney } from "../../lib/format";
import { overrideInputId, PriceOverridesEditor } from "./PriceOverridesEditor";
import { PRICE_LABELS, emptyOverride, priceDraft, type PriceDraft } from "./priceDraft";
import { SettingsDocumentSection, useFocusOnRender } from "./SettingsDocument";

export function PricingSection() {
  return (
    <SettingsDocumentSection
      title="Pricing"
      queryKey="pricing"
      load={getPricing}
      loadingLabel="Loading prices…"
      appliedAs="charges the new prices"
      facts={(view) => (
        <>
          <dt>List prices as of</dt>
          <dd>{view.table_as_of}</dd>
        </>
      )}
    >
      {(view, on) => <PricingContent view={view} onSaved={on.saved} onReload={on.reload} />}
    </SettingsDocumentSection>
  );
}

function PricingContent({ view, onSaved, onReload }: { view: PricingView; onSaved(view: PricingView): void; onReload(): void }) {
  const isAdmin = useIsAdmin();
  const [draft, setDraft] = useState<PriceDraft>(() => priceDraft(view.overrides));
  const focusOnRender = useFocusOnRender();

  function editModel(model: string) {
    const existing = draft.overrides.find((row) => row.model === model);
    if (existing) {
      focusOnRender(overrideInputId(existing.id));
      return;
    }
    const added = emptyOverride(model);
    setDraft((previous) => ({ ...previous, overrides: [...previous.overrides, added] }));
    focusOnRender(overrideInputId(added.id));
  }

  return (
    <>
      <PriceTable models={view.models} onEdit={isAdmin ? editModel : undefined} editing={new Set(draft.overrides.map((row) => row.model))} />
      <MultiplierTable multipliers={view.bedrock_multipliers} overridden={Object.keys(view.overrides.bedrock_multipliers ?? {})} />
      {isAdmin && (
        <PriceOverridesEditor
          view={view}
          draft={draft}
          setDraft={setDraft}
          focusOnRender={focusOnRender}
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
