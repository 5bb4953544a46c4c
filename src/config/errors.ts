/** One problem in an instance definition, located as precisely as we can. */
export interface DefinitionProblem {
  file: string;
  /** JSON pointer style path inside the document, e.g. /dataSources/0/entities/1/primaryKey */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export function formatPath(path: string): string {
  if (path === '' || path === '/') return '(root)';
  return path
    .split('/')
    .slice(1)
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join('');
}

export function formatProblem(p: DefinitionProblem): string {
  const where = p.line ? `${p.file}:${p.line}${p.column ? `:${p.column}` : ''}` : p.file;
  return `${where}: ${formatPath(p.path)}: ${p.message}`;
}

/** Raised when an instance definition cannot be used; lists every problem found, not just the first. */
export class InstanceDefinitionError extends Error {
  constructor(readonly problems: DefinitionProblem[]) {
    super(
      problems.length === 1
        ? `invalid instance definition: ${formatProblem(problems[0])}`
        : `invalid instance definition (${problems.length} problems):\n` + problems.map((p) => '  ' + formatProblem(p)).join('\n'),
    );
    this.name = 'InstanceDefinitionError';
  }
}
