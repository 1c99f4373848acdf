/**
 * AppSync enhanced subscription filters: `util.transform.toSubscriptionFilter` (object form -> filterGroup JSON) and
 * the evaluation of that JSON against a published payload. Groups are OR'ed, filters inside a group AND'ed.
 */

export type FilterValue = string | number | boolean | null | Array<string | number>;
export interface FilterEntry {
  fieldName: string;
  operator: string;
  value: FilterValue;
}
export interface FilterGroup {
  filters: FilterEntry[];
}
export interface SubscriptionFilter {
  filterGroup: FilterGroup[];
}

export const FILTER_OPERATORS = [
  "eq",
  "ne",
  "le",
  "lt",
  "ge",
  "gt",
  "contains",
  "notContains",
  "beginsWith",
  "in",
  "notIn",
  "between",
  "containsAny",
] as const;
const OPERATORS = new Set<string>(FILTER_OPERATORS);

/** AppSync's documented limits: 10 groups, 5 filters per group, 5 values for in/notIn, 20 for containsAny. */
const MAX_GROUPS = 10;
const MAX_FILTERS_PER_GROUP = 5;

export class FilterDefinitionError extends Error {}

type Conjunction = FilterEntry[];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Expands the object form into disjunctive normal form: a list of AND-groups. */
function toDnf(obj: Record<string, unknown>, prefix: string, ignored: Set<string>): Conjunction[] {
  let groups: Conjunction[] = [[]];
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    let alternatives: Conjunction[];
    if (key === "or" || key === "and") {
      if (!Array.isArray(value) || value.length === 0) throw new FilterDefinitionError(`'${key}' takes a non-empty array`);
      const parts = value.map((v) => {
        if (!isPlainObject(v)) throw new FilterDefinitionError(`'${key}' items must be objects`);
        return toDnf(v, prefix, ignored);
      });
      alternatives = key === "or" ? parts.flat() : parts.reduce((acc, p) => cross(acc, p), [[]] as Conjunction[]);
    } else {
      const fieldName = prefix ? `${prefix}.${key}` : key;
      if (ignored.has(fieldName)) continue;
      if (!isPlainObject(value)) throw new FilterDefinitionError(`filter for '${fieldName}' must be an object of operators`);
      const ops = Object.entries(value).filter(([, v]) => v !== undefined);
      if (ops.some(([op]) => OPERATORS.has(op))) {
        alternatives = [
          ops.map(([op, v]) => {
            if (!OPERATORS.has(op)) throw new FilterDefinitionError(`unknown filter operator '${op}' on '${fieldName}'`);
            return { fieldName, operator: op, value: v as FilterValue };
          }),
        ];
      } else {
        alternatives = toDnf(value, fieldName, ignored); // nested field path: { user: { role: { eq: 1 } } }
      }
    }
    groups = cross(groups, alternatives);
  }
  return groups;
}

function cross(a: Conjunction[], b: Conjunction[]): Conjunction[] {
  const out: Conjunction[] = [];
  for (const x of a) for (const y of b) out.push([...x, ...y]);
  return out;
}

/** `util.transform.toSubscriptionFilter(obj, ignoredFields?, rules?)`: rules are AND'ed with the object's filters. */
export function toSubscriptionFilter(
  obj: Record<string, unknown>,
  ignoredFields: string[] = [],
  rules?: Record<string, unknown>,
): SubscriptionFilter {
  if (!isPlainObject(obj)) throw new FilterDefinitionError("toSubscriptionFilter takes an object");
  const ignored = new Set(ignoredFields);
  let groups = toDnf(obj, "", ignored);
  if (rules && isPlainObject(rules)) groups = cross(groups, toDnf(rules, "", new Set()));
  groups = groups.filter((g) => g.length > 0);
  validateFilter({ filterGroup: groups.map((filters) => ({ filters })) });
  return { filterGroup: groups.map((filters) => ({ filters })) };
}

/** Rejects filters AppSync would reject, so the local stack fails where AWS would. */
export function validateFilter(filter: SubscriptionFilter): void {
  if (!filter || !Array.isArray(filter.filterGroup)) throw new FilterDefinitionError("filter needs a filterGroup array");
  if (filter.filterGroup.length > MAX_GROUPS) throw new FilterDefinitionError(`at most ${MAX_GROUPS} filter groups`);
  for (const group of filter.filterGroup) {
    if (!Array.isArray(group.filters) || group.filters.length === 0) throw new FilterDefinitionError("each group needs filters");
    if (group.filters.length > MAX_FILTERS_PER_GROUP) {
      throw new FilterDefinitionError(`at most ${MAX_FILTERS_PER_GROUP} filters per group`);
    }
    for (const f of group.filters) {
      if (!OPERATORS.has(f.operator)) throw new FilterDefinitionError(`unknown filter operator '${f.operator}'`);
      const arrayOp = f.operator === "in" || f.operator === "notIn" || f.operator === "between" || f.operator === "containsAny";
      if (arrayOp !== Array.isArray(f.value)) throw new FilterDefinitionError(`'${f.operator}' on '${f.fieldName}' has the wrong value type`);
      if (f.operator === "between" && (f.value as unknown[]).length !== 2) throw new FilterDefinitionError("'between' takes two values");
      if ((f.operator === "in" || f.operator === "notIn") && (f.value as unknown[]).length > 5) {
        throw new FilterDefinitionError(`'${f.operator}' takes at most 5 values`);
      }
      if (f.operator === "containsAny" && (f.value as unknown[]).length > 20) {
        throw new FilterDefinitionError("'containsAny' takes at most 20 values");
      }
    }
  }
}

function readPath(payload: unknown, path: string): unknown {
  let cur: unknown = payload;
  for (const part of path.split(".")) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function sameType(a: unknown, b: unknown): boolean {
  return (typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string");
}

function evaluate(entry: FilterEntry, actual: unknown): boolean {
  const v = entry.value;
  switch (entry.operator) {
    case "eq":
      return actual === v;
    case "ne":
      return actual !== v;
    case "lt":
      return sameType(actual, v) && (actual as number) < (v as number);
    case "le":
      return sameType(actual, v) && (actual as number) <= (v as number);
    case "gt":
      return sameType(actual, v) && (actual as number) > (v as number);
    case "ge":
      return sameType(actual, v) && (actual as number) >= (v as number);
    case "contains":
      return Array.isArray(actual) ? actual.includes(v) : typeof actual === "string" && typeof v === "string" && actual.includes(v);
    case "notContains":
      return Array.isArray(actual) ? !actual.includes(v) : typeof actual === "string" && typeof v === "string" && !actual.includes(v);
    case "beginsWith":
      return typeof actual === "string" && typeof v === "string" && actual.startsWith(v);
    case "in":
      return Array.isArray(v) && (v as unknown[]).includes(actual);
    case "notIn":
      return Array.isArray(v) && actual !== undefined && !(v as unknown[]).includes(actual);
    case "between": {
      const [lo, hi] = v as Array<string | number>;
      return sameType(actual, lo) && sameType(actual, hi) && (actual as number) >= (lo as number) && (actual as number) <= (hi as number);
    }
    case "containsAny":
      return Array.isArray(actual) && (v as unknown[]).some((x) => actual.includes(x));
    default:
      return false;
  }
}

/** True when the payload passes the filter: some group whose filters all hold. No filter set passes everything. */
export function matchesFilter(filter: SubscriptionFilter | undefined, payload: unknown): boolean {
  if (!filter || filter.filterGroup.length === 0) return true;
  return filter.filterGroup.some((g) => g.filters.every((f) => evaluate(f, readPath(payload, f.fieldName))));
}

/** AppSync's basic filtering: every argument the subscriber passed equals the payload's same-named field. */
export function matchesArguments(args: Record<string, unknown>, payload: unknown): boolean {
  if (!isPlainObject(payload)) return false;
  return Object.entries(args).every(([name, value]) => value === null || value === undefined || payload[name] === value);
}
