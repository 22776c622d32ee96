import { act, fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, useLocation } from "react-router";
import { ApiError } from "../api/client";
import { ConfirmButton } from "./ConfirmButton";
import { DateRangePicker, defaultRange, useDateRange } from "./DateRange";
import { Field, fieldError, FormError, SelectField } from "./Field";

// jsdom has <dialog> (and hides it unless [open]) but not showModal/close: these do what the browser does.
beforeAll(() => {
  if (!HTMLDialogElement.prototype.showModal) {
    HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
      this.setAttribute("open", "");
    };
  }
  if (!HTMLDialogElement.prototype.close) {
    HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
      if (!this.hasAttribute("open")) return;
      this.removeAttribute("open");
      this.dispatchEvent(new Event("close"));
    };
  }
});

describe("ConfirmButton", () => {
  function renderRevoke(onConfirm: () => Promise<unknown> | void, props: { disabled?: boolean } = {}) {
    render(
      <ConfirmButton label="Revoke key" title="Revoke key osk_1a2b3c?" confirmLabel="Revoke it" onConfirm={onConfirm} {...props}>
        Claude Code using this key stops working at once.
      </ConfirmButton>,
    );
    return userEvent.setup();
  }

  test("the button asks first: the dialog names the action and its consequence, nothing runs yet", async () => {
    const onConfirm = vi.fn();
    const user = renderRevoke(onConfirm);
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Revoke key" }));

    const dialog = screen.getByRole("dialog", { name: "Revoke key osk_1a2b3c?" });
    expect(dialog).toHaveTextContent("Claude Code using this key stops working at once.");
    expect(within(dialog).getByRole("button", { name: "Revoke it" })).toBeInTheDocument();
    expect(onConfirm).not.toHaveBeenCalled();
  });

  test("Cancel closes the dialog and does nothing", async () => {
    const onConfirm = vi.fn();
    const user = renderRevoke(onConfirm);

    await user.click(screen.getByRole("button", { name: "Revoke key" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel" }));

    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(onConfirm).not.toHaveBeenCalled();
  });

  test("confirming runs the action once, shows it working meanwhile, then closes", async () => {
    let finish!: () => void;
    const onConfirm = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const user = renderRevoke(onConfirm);

    await user.click(screen.getByRole("button", { name: "Revoke key" }));
    const dialog = screen.getByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Revoke it" }));

    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(within(dialog).getByRole("button", { name: "Working…" })).toBeDisabled();
    expect(within(dialog).getByRole("button", { name: "Cancel" })).toBeDisabled();

    await act(async () => finish());
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });

  test("without confirmLabel the confirm button repeats the label", async () => {
    const onConfirm = vi.fn();
    render(
      <ConfirmButton label="Deactivate" title="Deactivate Ada?" onConfirm={onConfirm}>
        Her keys stop working.
      </ConfirmButton>,
    );
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Deactivate" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Deactivate" }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });

  test("a disabled button cannot open the dialog", async () => {
    const onConfirm = vi.fn();
    const user = renderRevoke(onConfirm, { disabled: true });

    expect(screen.getByRole("button", { name: "Revoke key" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Revoke key" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
  });
});

describe("Field", () => {
  test("the label names the input; with an error it is invalid and described by the error text", () => {
    render(<Field label="Email" type="email" error="string should match pattern" hint="Their work address" defaultValue="nope" />);

    const input = screen.getByRole("textbox", { name: "Email" });
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toBeInvalid();
    expect(input).toHaveAccessibleDescription("Their work address string should match pattern");
    expect(screen.getByText("string should match pattern")).toBeVisible();
  });

  test("without an error it is not marked invalid and describes only its hint", () => {
    render(<Field label="Team" hint="Lower case, like data" />);

    const input = screen.getByRole("textbox", { name: "Team" });
    expect(input).not.toHaveAttribute("aria-invalid");
    expect(input).toHaveAccessibleDescription("Lower case, like data");
  });

  test("two fields with the same label get distinct ids", () => {
    render(
      <>
        <Field label="Name" error="required" />
        <Field label="Name" error="too long" />
      </>,
    );
    const [first, second] = screen.getAllByRole("textbox", { name: "Name" });
    expect(first).toHaveAccessibleDescription("required");
    expect(second).toHaveAccessibleDescription("too long");
  });

  test("SelectField ties its error the same way", () => {
    render(
      <SelectField label="Role" error="must be admin or finance" defaultValue="x">
        <option value="x">x</option>
      </SelectField>,
    );
    const select = screen.getByRole("combobox", { name: "Role" });
    expect(select).toHaveAttribute("aria-invalid", "true");
    expect(select).toHaveAccessibleDescription("must be admin or finance");
  });

  test("fieldError reads the API's message for a field, nested names included, and nothing else", () => {
    const error = new ApiError(422, "invalid_request", "The request is not valid", [
      { field: "email", message: "string should match pattern" },
      { field: "budget.monthly_usd", message: "must be at least 0" },
    ]);
    expect(fieldError(error, "email")).toBe("string should match pattern");
    expect(fieldError(error, "monthly_usd")).toBe("must be at least 0");
    expect(fieldError(error, "team")).toBeUndefined();
    expect(fieldError(new Error("boom"), "email")).toBeUndefined();
    expect(fieldError(undefined, "email")).toBeUndefined();
  });

  test("FormError points at the fields when each problem is shown beside one, else gives the API's words", () => {
    const shownBeside = new ApiError(422, "invalid_request", "The request is not valid: email: …", [{ field: "email", message: "string should match pattern" }]);
    const { rerender } = render(<FormError error={shownBeside} fields={["email", "team"]} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Please correct the fields marked below.");

    rerender(<FormError error={shownBeside} fields={["team"]} />);
    expect(screen.getByRole("alert")).toHaveTextContent("The request is not valid: email: …");

    rerender(<FormError error={new ApiError(409, "conflict", "Someone changed this user since you opened it")} fields={["email"]} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Someone changed this user since you opened it");

    rerender(<FormError error={undefined} fields={["email"]} />);
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});

describe("DateRange", () => {
  const TODAY = "2026-11-24";

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(`${TODAY}T15:00:00Z`));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /** A page using the range as Usage does, showing the URL it keeps. */
  function RangePage({ days }: { days?: number }) {
    const [range, setRange] = useDateRange(days);
    const location = useLocation();
    return (
      <>
        <DateRangePicker value={range} onChange={setRange} />
        <p data-testid="range">
          {range.from} to {range.to}
        </p>
        <p data-testid="url">{location.search}</p>
      </>
    );
  }

  function renderAt(url: string, days?: number) {
    render(
      <MemoryRouter initialEntries={[url]}>
        <RangePage days={days} />
      </MemoryRouter>,
    );
    return userEvent.setup();
  }

  test("defaultRange counts today in: the last 30 days end today (UTC)", () => {
    expect(defaultRange(30, TODAY)).toEqual({ from: "2026-10-26", to: TODAY });
    expect(defaultRange(7, "2026-03-03")).toEqual({ from: "2026-02-25", to: "2026-03-03" });
  });

  test("the range comes from ?from=&to= so a shared link keeps it", () => {
    renderAt("/usage?from=2026-11-01&to=2026-11-07");

    expect(screen.getByTestId("range")).toHaveTextContent("2026-11-01 to 2026-11-07");
    expect(screen.getByLabelText("From")).toHaveValue("2026-11-01");
    expect(screen.getByLabelText("To")).toHaveValue("2026-11-07");
    expect(screen.getByLabelText("To")).toHaveAttribute("max", TODAY);
  });

  test.each(["/usage", "/usage?from=2026-11-01", "/usage?from=yesterday&to=2026-11-07", "/usage?from=2026-11-01&to=2026-11-7"])(
    "without a valid range (%s) it is the last N days",
    (url) => {
      renderAt(url, 30);
      expect(screen.getByTestId("range")).toHaveTextContent("2026-10-26 to 2026-11-24");
      expect(screen.getByRole("button", { name: "Last 30 days" })).toHaveAttribute("aria-pressed", "true");
    },
  );

  test("a preset sets the range in the URL, keeping the page's other parameters, and shows as pressed", async () => {
    const user = renderAt("/usage?team=data&from=2026-11-01&to=2026-11-07");

    await user.click(screen.getByRole("button", { name: "Last 7 days" }));

    expect(screen.getByTestId("url")).toHaveTextContent("?team=data&from=2026-11-18&to=2026-11-24");
    expect(screen.getByRole("button", { name: "Last 7 days" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByRole("button", { name: "Last 30 days" })).toHaveAttribute("aria-pressed", "false");

    await user.click(screen.getByRole("button", { name: "This month" }));
    expect(screen.getByTestId("range")).toHaveTextContent("2026-11-01 to 2026-11-24");
  });

  test("typing a day changes that end only; clearing the input keeps the range", () => {
    renderAt("/usage?from=2026-11-01&to=2026-11-07");

    fireEvent.change(screen.getByLabelText("From"), { target: { value: "2026-10-15" } });
    expect(screen.getByTestId("range")).toHaveTextContent("2026-10-15 to 2026-11-07");

    fireEvent.change(screen.getByLabelText("To"), { target: { value: "" } });
    expect(screen.getByTestId("range")).toHaveTextContent("2026-10-15 to 2026-11-07");
  });

  test("a start after the end is pointed out", () => {
    renderAt("/usage?from=2026-11-10&to=2026-11-01");

    expect(screen.getByRole("alert")).toHaveTextContent("The start is after the end.");
  });

  test("the inputs are grouped and labelled for a screen reader", () => {
    renderAt("/usage");

    expect(screen.getByRole("group", { name: "Date range (UTC days)" })).toBeInTheDocument();
    expect(screen.getByRole("group", { name: "Quick ranges" })).toBeInTheDocument();
  });
});
