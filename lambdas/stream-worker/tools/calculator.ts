/**
 * Built-in tool `calculator`: an arithmetic expression evaluated by a small recursive-descent parser, never `eval`:
 * numbers, + - * / % ^ (right-associative), unary signs and parentheses. Bounded in length and depth; a division by
 * zero or a result that is not finite is an error the model sees.
 */
import { object, string } from "zod/v4";
import { defineTool, ToolInputError } from "./toolDefinition";

/** Longest expression accepted, and deepest nesting of parentheses and signs. */
export const MAX_EXPRESSION_CHARS = 200;
const MAX_DEPTH = 32;

export const calculator = defineTool({
  name: "calculator",
  description: "Evaluates an arithmetic expression exactly as written: numbers, + - * / % ^ and parentheses, e.g. (2 + 3) * 4.5. Returns the result.",
  input: object({ expression: string().min(1).max(MAX_EXPRESSION_CHARS).describe("The arithmetic expression, e.g. (2 + 3) * 4.5") }),
  notice: "Calculating {expression}...",
  run: ({ expression }) => ({ expression, result: evaluateArithmetic(expression) }),
});

/** The value of `expression`; throws a ToolInputError naming what is wrong. */
export function evaluateArithmetic(expression: string): number {
  const parser = new ArithmeticParser(expression);
  const value = parser.expression(0);
  parser.expectEnd();
  if (!Number.isFinite(value)) throw new ToolInputError("the result is not a finite number");
  return value;
}

const NUMBER = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/;

class ArithmeticParser {
  private at = 0;

  constructor(private readonly text: string) {}

  /** expression := term (('+' | '-') term)* */
  expression(depth: number): number {
    let value = this.term(depth);
    for (let op = this.peek(); op === "+" || op === "-"; op = this.peek()) {
      this.at++;
      const right = this.term(depth);
      value = op === "+" ? value + right : value - right;
    }
    return value;
  }

  expectEnd(): void {
    if (this.peek() !== undefined) throw this.unexpected();
  }

  /** term := unary (('*' | '/' | '%') unary)* */
  private term(depth: number): number {
    let value = this.unary(depth);
    for (let op = this.peek(); op === "*" || op === "/" || op === "%"; op = this.peek()) {
      this.at++;
      const right = this.unary(depth);
      if ((op === "/" || op === "%") && right === 0) throw new ToolInputError("division by zero");
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  }

  /** unary := ('+' | '-') unary | power;  power := primary ('^' unary)? */
  private unary(depth: number): number {
    if (depth > MAX_DEPTH) throw new ToolInputError(`the expression nests deeper than ${MAX_DEPTH} levels`);
    const op = this.peek();
    if (op === "+" || op === "-") {
      this.at++;
      const value = this.unary(depth + 1);
      return op === "-" ? -value : value;
    }
    const base = this.primary(depth);
    if (this.peek() !== "^") return base;
    this.at++;
    return base ** this.unary(depth + 1);
  }

  /** primary := number | '(' expression ')' */
  private primary(depth: number): number {
    if (this.peek() === "(") {
      this.at++;
      const value = this.expression(depth + 1);
      if (this.peek() !== ")") throw this.unexpected("a closing parenthesis");
      this.at++;
      return value;
    }
    const match = NUMBER.exec(this.text.slice(this.at));
    if (!match) throw this.unexpected("a number");
    this.at += match[0].length;
    return Number(match[0]);
  }

  /** The next character that is not whitespace (the position moves past the whitespace), undefined at the end. */
  private peek(): string | undefined {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
    return this.text[this.at];
  }

  private unexpected(wanted?: string): ToolInputError {
    const found = this.peek();
    const what = found === undefined ? "the end of the expression" : `"${found}" at position ${this.at + 1}`;
    return new ToolInputError(wanted ? `expected ${wanted}, found ${what}` : `unexpected ${what}`);
  }
}
