import { useState } from "react";

/** Copies `text` to the clipboard and says so (for assistive technology too). */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <>
      <button type="button" onClick={copy}>
        {label}
      </button>
      <span role="status" className="copy-status">
        {copied === true ? "Copied" : copied === false ? "Copy failed: select the text and copy it" : ""}
      </span>
    </>
  );
}
