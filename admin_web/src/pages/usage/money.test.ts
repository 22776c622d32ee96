import { addMoney } from "./money";

test("money strings add up exactly, where floats would not", () => {
  expect(0.1 + 0.2).not.toBe(0.3);
  expect(addMoney(["0.1", "0.2"])).toBe("0.3");
  expect(addMoney(["12.345678", "0.000001", "100"])).toBe("112.345679");
  expect(addMoney(["1.5", "2.25"])).toBe("3.75");
});

test("Python's exponent forms and signs are understood", () => {
  expect(addMoney(["0E-7", "1.5"])).toBe("1.5000000");
  expect(addMoney(["1E+2", "0.5"])).toBe("100.5");
  expect(addMoney(["-0.25", "0.1"])).toBe("-0.15");
});

test("no values sum to zero; a value that is not a number is refused", () => {
  expect(addMoney([])).toBe("0");
  expect(() => addMoney(["$1.00"])).toThrow(RangeError);
});
