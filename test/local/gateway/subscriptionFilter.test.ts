import { FilterDefinitionError, matchesArguments, matchesFilter, toSubscriptionFilter } from "../../../local/appsync/subscriptionFilter";

const one = (fieldName: string, operator: string, value: unknown) => ({ filterGroup: [{ filters: [{ fieldName, operator, value: value as never }] }] });

describe("enhanced subscription filter semantics", () => {
  const event = { userId: "u1", sessionId: "session-0001", severity: 7, name: "alpha-beta", tags: ["a", "b"], nested: { role: "admin" } };

  it.each([
    ["eq", "userId", "u1", true],
    ["eq", "userId", "u2", false],
    ["eq", "severity", "7", false],
    ["ne", "userId", "u2", true],
    ["ne", "userId", "u1", false],
    ["in", "userId", ["u0", "u1"], true],
    ["in", "userId", ["u0", "u2"], false],
    ["notIn", "userId", ["u0", "u2"], true],
    ["notIn", "userId", ["u1"], false],
    ["beginsWith", "name", "alpha", true],
    ["beginsWith", "name", "beta", false],
    ["gt", "severity", 6, true],
    ["gt", "severity", 7, false],
    ["ge", "severity", 7, true],
    ["lt", "severity", 7, false],
    ["le", "severity", 7, true],
    ["lt", "severity", "9", false],
    ["between", "severity", [7, 9], true],
    ["between", "severity", [8, 9], false],
    ["contains", "tags", "a", true],
    ["contains", "name", "ha-be", true],
    ["notContains", "tags", "z", true],
    ["notContains", "tags", "a", false],
    ["containsAny", "tags", ["x", "b"], true],
    ["containsAny", "tags", ["x", "y"], false],
    ["eq", "nested.role", "admin", true],
    ["eq", "missing.path", "admin", false],
  ])("%s on %s with %j -> %s", (operator, field, value, expected) => {
    expect(matchesFilter(one(field, operator, value), event)).toBe(expected);
  });

  it("ANDs fields of one object and ORs the `or` alternatives, as util.transform.toSubscriptionFilter does", () => {
    const filter = toSubscriptionFilter({
      userId: { eq: "u1" },
      or: [{ severity: { ge: 9 } }, { name: { beginsWith: "alpha" }, sessionId: { eq: "session-0001" } }],
    });
    expect(filter.filterGroup).toEqual([
      { filters: [{ fieldName: "userId", operator: "eq", value: "u1" }, { fieldName: "severity", operator: "ge", value: 9 }] },
      {
        filters: [
          { fieldName: "userId", operator: "eq", value: "u1" },
          { fieldName: "name", operator: "beginsWith", value: "alpha" },
          { fieldName: "sessionId", operator: "eq", value: "session-0001" },
        ],
      },
    ]);
    expect(matchesFilter(filter, event)).toBe(true);
    expect(matchesFilter(filter, { ...event, userId: "u2" })).toBe(false);
    expect(matchesFilter(filter, { ...event, name: "gamma", severity: 9 })).toBe(true);
    expect(matchesFilter(filter, { ...event, name: "gamma", severity: 8 })).toBe(false);
  });

  it("expands `and` of `or`s into every combination", () => {
    const filter = toSubscriptionFilter({ and: [{ or: [{ a: { eq: 1 } }, { b: { eq: 1 } }] }, { or: [{ c: { eq: 1 } }, { d: { eq: 1 } }] }] });
    expect(filter.filterGroup).toHaveLength(4);
    expect(matchesFilter(filter, { a: 1, d: 1 })).toBe(true);
    expect(matchesFilter(filter, { a: 1, b: 1 })).toBe(false);
  });

  it("honours ignoredFields and ANDs the rules argument", () => {
    const filter = toSubscriptionFilter({ userId: { eq: "u1" }, name: { eq: "x" } }, ["name"], { severity: { gt: 5 } });
    expect(matchesFilter(filter, event)).toBe(true);
    expect(matchesFilter(filter, { ...event, severity: 1 })).toBe(false);
  });

  it("rejects what AppSync rejects", () => {
    expect(() => toSubscriptionFilter({ userId: { like: "u%" } })).toThrow(FilterDefinitionError);
    expect(() => toSubscriptionFilter({ userId: { in: [1, 2, 3, 4, 5, 6] } })).toThrow(FilterDefinitionError);
    expect(() => toSubscriptionFilter({ userId: { between: [1] } })).toThrow(FilterDefinitionError);
    expect(() => toSubscriptionFilter({ userId: "u1" })).toThrow(FilterDefinitionError);
  });

  it("no filter passes everything; basic argument filtering compares same-named fields", () => {
    expect(matchesFilter(undefined, event)).toBe(true);
    expect(matchesArguments({ sessionId: "session-0001" }, event)).toBe(true);
    expect(matchesArguments({ sessionId: "session-0002" }, event)).toBe(false);
    expect(matchesArguments({ sessionId: null }, event)).toBe(true);
  });
});
