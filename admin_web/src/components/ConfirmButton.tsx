/**
 * A destructive action behind a confirmation dialog (the native <dialog>: focus trapped, Escape cancels). If the
 * action fails, the dialog stays open with the reason, so nothing is lost silently.
 */
import { useId, useRef, useState, type ReactNode } from "react";
import { describeError } from "./States";

export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel,
  onConfirm,
  disabled,
  danger = true,
}: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel?: string;
  /** May throw: the error is shown in the dialog. */
  onConfirm(): Promise<unknown> | void;
  disabled?: boolean;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const titleId = useId();

  function open() {
    setFailure(null);
    dialog.current?.showModal();
  }

  async function confirm() {
    setBusy(true);
    setFailure(null);
    try {
      await onConfirm();
      dialog.current?.close();
    } catch (error) {
      setFailure(describeError(error as Error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" className={danger ? "danger" : undefined} disabled={disabled} onClick={open}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} className="confirm">
        <h2 id={titleId}>{title}</h2>
        <div className="confirm-body">{children}</div>
        {failure && (
          <p className="form-error" role="alert">
            {failure}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={() => dialog.current?.close()} disabled={busy}>
            Cancel
          </button>
          <button type="button" className={danger ? "danger" : "primary"} onClick={confirm} disabled={busy}>
            {busy ? "Working…" : (confirmLabel ?? label)}
          </button>
        </div>
      </dialog>
    </>
  );
}
