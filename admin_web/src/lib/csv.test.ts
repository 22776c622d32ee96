import { csvCell, downloadCsv, toCsv } from "./csv";

describe("csvCell", () => {
  test("plain text and numbers are written as they are", () => {
    expect(csvCell("Ada Lovelace")).toBe("Ada Lovelace");
    expect(csvCell(1234)).toBe("1234");
    expect(csvCell("12.345678")).toBe("12.345678");
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
  });

  test("commas, quotes and line breaks are quoted, quotes doubled", () => {
    expect(csvCell("Lovelace, Ada")).toBe('"Lovelace, Ada"');
    expect(csvCell('Ada "the Countess"')).toBe('"Ada ""the Countess"""');
    expect(csvCell("line one\nline two")).toBe('"line one\nline two"');
    expect(csvCell("carriage\rreturn")).toBe('"carriage\rreturn"');
  });

  test("text a spreadsheet would run as a formula gets a leading quote", () => {
    expect(csvCell("=1+1")).toBe("'=1+1");
    expect(csvCell("+44 20 7946 0000")).toBe("'+44 20 7946 0000");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@SUM(A1:A2)")).toBe("'@SUM(A1:A2)");
    expect(csvCell("\tindented")).toBe("'\tindented");
    expect(csvCell("\rreturn")).toBe("\"'\rreturn\"");
    // Defused and quoted: the quote goes inside the quoted field.
    expect(csvCell('=HYPERLINK("http://evil.test","x")')).toBe('"\'=HYPERLINK(""http://evil.test"",""x"")"');
  });

  test("negative numbers stay numbers", () => {
    expect(csvCell(-12.5)).toBe("-12.5");
    expect(csvCell("-12.5")).toBe("-12.5");
    expect(csvCell("-3")).toBe("-3");
  });

  test("a formula character later in the text is harmless and left alone", () => {
    expect(csvCell("a=b")).toBe("a=b");
    expect(csvCell("team-platform")).toBe("team-platform");
  });
});

test("toCsv ends every record with CRLF", () => {
  expect(
    toCsv([
      ["User", "Cost (USD)"],
      ["Smith, Jo", "1.5"],
      ["=cmd", "0"],
    ]),
  ).toBe('User,Cost (USD)\r\n"Smith, Jo",1.5\r\n\'=cmd,0\r\n');
});

/** jsdom's Blob has no arrayBuffer(); FileReader reads it. */
function blobBytes(blob: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

test("downloadCsv saves a UTF-8 file under the name given", async () => {
  let saved: Blob | undefined;
  const created = vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
    saved = blob as Blob;
    return "blob:csv";
  });
  const revoked = vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
  const clicked: { download: string; href: string }[] = [];
  const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    clicked.push({ download: this.download, href: this.getAttribute("href") ?? "" });
  });
  try {
    downloadCsv("report.csv", "a,b\r\n");
    expect(clicked).toEqual([{ download: "report.csv", href: "blob:csv" }]);
    expect(saved?.type).toBe("text/csv;charset=utf-8");
    const bytes = await blobBytes(saved!);
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(new TextDecoder().decode(bytes.slice(3))).toBe("a,b\r\n");
    expect(document.querySelector("a[download]")).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(revoked).toHaveBeenCalledWith("blob:csv");
  } finally {
    created.mockRestore();
    revoked.mockRestore();
    click.mockRestore();
  }
});
