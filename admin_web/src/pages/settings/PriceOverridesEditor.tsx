/**
 * Admins' editor of the price overrides: one fieldset per overridden model (blank keeps the list price), the
 * Bedrock geography multipliers, and "Save pricing" with the version that was read.
 */
import { useId, useState, type FormEvent } from "react";
import { PRICE_FIELDS, putPriceOverrides, type PricingView } from "../../api/admin";
import { Field, SelectField, fieldError } from "../../components/Field";
import {
  PRICE_LABELS,
  changed,
  draftId,
  emptyOverride,
  overridesInput,
  type Choice,
  type LongContextChoice,
  type MultiplierDraft,
  type OverrideDraft,
  type PriceDraft,
} from "./priceDraft";
import { DocumentEditor, useDocumentSave } from "./SettingsDocument";

/** The id of an override's first input, for focusing the override from the price table. */
export function overrideInputId(rowId: string): string {
  return `${rowId}-input`;
}

export function PriceOverridesEditor({
  view,
  draft,
  setDraft,
  focusOnRender,
  onSaved,
  onReload,
  onDiscard,
}: {
  view: PricingView;
  draft: PriceDraft;
  setDraft(update: (draft: PriceDraft) => PriceDraft): void;
  /** Brings an input into focus once it has rendered. */
  focusOnRender(elementId: string): void;
  onSaved(view: PricingView): void;
  onReload(): void;
  onDiscard(): void;
}) {
  const modelListId = useId();
  const [newModel, setNewModel] = useState("");
  const saving = useDocumentSave(putPriceOverrides, onSaved);
  const error = saving.error;

  const knownNames = view.models.flatMap((model) => [model.model, ...model.aliases]);
  const dirty = changed(draft, view.overrides);

  function updateOverride(id: string, change: Partial<OverrideDraft>) {
    setDraft((current) => ({ ...current, overrides: current.overrides.map((row) => (row.id === id ? { ...row, ...change } : row)) }));
  }
  function updateMultiplier(id: string, change: Partial<MultiplierDraft>) {
    setDraft((current) => ({ ...current, multipliers: current.multipliers.map((row) => (row.id === id ? { ...row, ...change } : row)) }));
  }

  function addOverride(event: FormEvent) {
    event.preventDefault();
    const model = newModel.trim();
    if (!model) return;
    const existing = draft.overrides.find((row) => row.model === model);
    if (existing) {
      focusOnRender(overrideInputId(existing.id));
    } else {
      const added = emptyOverride(model);
      setDraft((current) => ({ ...current, overrides: [...current.overrides, added] }));
      focusOnRender(overrideInputId(added.id));
    }
    setNewModel("");
  }

  function problemsBeforeSaving(): string | undefined {
    const geographies = draft.multipliers.map((row) => row.geography.trim()).filter(Boolean);
    if (draft.multipliers.some((row) => !row.geography.trim() && row.multiplier.trim())) return "Give every multiplier its geography.";
    if (new Set(geographies).size !== geographies.length) return "A geography is listed twice: keep one multiplier for it.";
    return undefined;
  }

  // Every field name shown beside an input, so the form-level message only repeats what is not.
  const shownFields = [
    ...draft.overrides.flatMap((row) => [
      `models.${row.model}`,
      ...PRICE_FIELDS.map((field) => `models.${row.model}.${field}`),
      `models.${row.model}.bedrock_geography_premium`,
      `models.${row.model}.long_context`,
      `models.${row.model}.long_context.above_input_tokens`,
      `models.${row.model}.long_context.input_factor`,
      `models.${row.model}.long_context.output_factor`,
    ]),
    ...draft.multipliers.map((row) => `bedrock_multipliers.${row.geography.trim()}`),
  ];

  return (
    <DocumentEditor
      title="Edit price overrides"
      intro={
        <>
          USD per million tokens. A blank field keeps the list price; a model that is not in the price table needs all five
          prices. Nothing changes until you save.
        </>
      }
      beforeForm={
        <form onSubmit={addOverride} className="filters" aria-label="Add a price override">
          <Field
            label="Model to override"
            list={modelListId}
            value={newModel}
            onChange={(event) => setNewModel(event.target.value)}
            autoComplete="off"
            spellCheck={false}
            hint="A model from the table, or a new name"
          />
          <datalist id={modelListId}>
            {knownNames.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
          <div className="field">
            <button type="submit" disabled={!newModel.trim()}>
              Add override
            </button>
          </div>
        </form>
      }
      saving={saving}
      onSubmit={() => void saving.submit(problemsBeforeSaving(), () => overridesInput(draft, view.version))}
      shownFields={shownFields}
      conflict={{ what: "the prices", reloadLabel: "Reload prices" }}
      onReload={onReload}
      saveLabel="Save pricing"
      dirty={dirty}
      onDiscard={onDiscard}
    >
      {draft.overrides.length === 0 && <p className="muted">No overrides: every model is priced at its list price.</p>}
      {draft.overrides.map((row) => (
        <OverrideFieldset
          key={row.id}
          row={row}
          error={error}
          onChange={(change) => updateOverride(row.id, change)}
          onRemove={() => setDraft((current) => ({ ...current, overrides: current.overrides.filter((each) => each.id !== row.id) }))}
        />
      ))}

      <fieldset className="panel">
        <legend>Bedrock geography multipliers</legend>
        <p className="muted" style={{ marginTop: 0 }}>
          Bedrock price = list price × the multiplier of the geography its model id names (an inference-profile prefix
          such as <code>us</code> or <code>eu</code>, or <code>in-region</code>, <code>unknown</code>). Only the
          geographies you list change.
        </p>
        {draft.multipliers.map((row) => (
          <div className="form-row" key={row.id}>
            <Field label="Geography" value={row.geography} onChange={(event) => updateMultiplier(row.id, { geography: event.target.value })} spellCheck={false} />
            <Field
              label="Multiplier"
              inputMode="decimal"
              value={row.multiplier}
              onChange={(event) => updateMultiplier(row.id, { multiplier: event.target.value })}
              error={row.geography.trim() ? fieldError(error, `bedrock_multipliers.${row.geography.trim()}`) : undefined}
            />
            <div className="field" style={{ flex: "0 0 auto", alignSelf: "flex-end" }}>
              <button
                type="button"
                onClick={() => setDraft((current) => ({ ...current, multipliers: current.multipliers.filter((each) => each.id !== row.id) }))}
              >
                Remove{" "}<span className="visually-hidden">the multiplier for {row.geography || "this geography"}</span>
              </button>
            </div>
          </div>
        ))}
        <button
          type="button"
          onClick={() => setDraft((current) => ({ ...current, multipliers: [...current.multipliers, { id: draftId(), geography: "", multiplier: "" }] }))}
        >
          Add a multiplier
        </button>
      </fieldset>
    </DocumentEditor>
  );
}

function OverrideFieldset({
  row,
  error,
  onChange,
  onRemove,
}: {
  row: OverrideDraft;
  error: Error | undefined;
  onChange(change: Partial<OverrideDraft>): void;
  onRemove(): void;
}) {
  const path = `models.${row.model}`;
  const wholeModel = fieldError(error, path);
  const extras = Object.keys(row.extra);
  return (
    <fieldset className="panel" aria-describedby={wholeModel ? `${row.id}-error` : undefined}>
      <legend>
        <code>{row.model}</code>
      </legend>
      {wholeModel && (
        <p id={`${row.id}-error`} className="field-error">
          {wholeModel}
        </p>
      )}
      <div className="form-row">
        {PRICE_FIELDS.map((field, index) => (
          <Field
            key={field}
            id={index === 0 ? overrideInputId(row.id) : undefined}
            label={PRICE_LABELS[field]}
            inputMode="decimal"
            placeholder="list price"
            value={row.prices[field]}
            onChange={(event) => onChange({ prices: { ...row.prices, [field]: event.target.value } })}
            error={fieldError(error, `${path}.${field}`)}
          />
        ))}
      </div>
      <div className="form-row">
        <SelectField
          label="Bedrock geography premium"
          value={row.premium}
          onChange={(event) => onChange({ premium: event.target.value as Choice })}
          error={fieldError(error, `${path}.bedrock_geography_premium`)}
        >
          <option value="keep">As in the price table</option>
          <option value="yes">Charged</option>
          <option value="no">Not charged</option>
        </SelectField>
        <SelectField
          label="Long-context pricing"
          value={row.longContext}
          onChange={(event) => onChange({ longContext: event.target.value as LongContextChoice })}
          error={fieldError(error, `${path}.long_context`)}
        >
          <option value="keep">As in the price table</option>
          <option value="none">None</option>
          <option value="custom">Custom tier</option>
        </SelectField>
      </div>
      {row.longContext === "custom" && (
        <div className="form-row">
          <Field
            label="Above input tokens"
            inputMode="numeric"
            value={row.aboveInputTokens}
            onChange={(event) => onChange({ aboveInputTokens: event.target.value })}
            error={fieldError(error, `${path}.long_context.above_input_tokens`)}
            hint="A request whose input exceeds this pays the factors on every token"
          />
          <Field
            label="Input factor"
            inputMode="decimal"
            value={row.inputFactor}
            onChange={(event) => onChange({ inputFactor: event.target.value })}
            error={fieldError(error, `${path}.long_context.input_factor`)}
          />
          <Field
            label="Output factor"
            inputMode="decimal"
            value={row.outputFactor}
            onChange={(event) => onChange({ outputFactor: event.target.value })}
            error={fieldError(error, `${path}.long_context.output_factor`)}
          />
        </div>
      )}
      {extras.length > 0 && (
        <p className="hint">
          Also stored, and kept as it is: {extras.map((name) => <code key={name}>{name} </code>)}(not a field the API knows;
          remove the override to drop it)
        </p>
      )}
      <button type="button" onClick={onRemove}>
        Remove override{" "}<span className="visually-hidden">for {row.model}</span>
      </button>
    </fieldset>
  );
}
