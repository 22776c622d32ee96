/** A labelled input with the API's message for it right below, tied by aria-describedby. */
import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";
import { ApiError } from "../api/client";

export function fieldError(error: Error | undefined, field: string): string | undefined {
  return error instanceof ApiError ? error.fieldMessage(field) : undefined;
}

/** The form-level message: the API's words, unless every problem is already shown beside its field. */
export function FormError({ error, fields }: { error: Error | undefined; fields: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.fields.length > 0 && error.fields.every((problem) => fields.some((name) => error.fieldMessage(name) === problem.message))) {
    return (
      <p className="form-error" role="alert">
        Please correct the fields marked below.
      </p>
    );
  }
  return (
    <p className="form-error" role="alert">
      {error.message}
    </p>
  );
}

type FieldProps = { label: string; error?: string; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>;

export function Field({ label, error, hint, id, "aria-describedby": callerDescribedBy, ...input }: FieldProps) {
  const generated = useId();
  const inputId = id ?? generated;
  const describedBy = [callerDescribedBy, hint ? `${inputId}-hint` : null, error ? `${inputId}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={inputId}>{label}</label>
      <input id={inputId} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint && (
        <small id={`${inputId}-hint`} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${inputId}-error`} className="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

type SelectProps = { label: string; error?: string; hint?: ReactNode; children: ReactNode } & SelectHTMLAttributes<HTMLSelectElement>;

export function SelectField({ label, error, hint, id, children, "aria-describedby": callerDescribedBy, ...select }: SelectProps) {
  const generated = useId();
  const selectId = id ?? generated;
  const describedBy = [callerDescribedBy, hint ? `${selectId}-hint` : null, error ? `${selectId}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={selectId}>{label}</label>
      <select id={selectId} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...select}>
        {children}
      </select>
      {hint && (
        <small id={`${selectId}-hint`} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${selectId}-error`} className="field-error">
          {error}
        </small>
      )}
    </div>
  );
}
