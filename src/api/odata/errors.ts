// The one error type of the OData query-option layer. It is an ApiError (400 InvalidParameter, target =
// the option), so a route can let it propagate to the app's error handler unchanged.
import { ApiError } from '../errors.js';

export type ODataOption =
  | '$filter'
  | '$select'
  | '$orderby'
  | '$top'
  | '$skip'
  | '$count'
  | '$search'
  | '$expand'
  | '$skiptoken'
  | (string & {});

export class ODataError extends ApiError {
  /** The query option at fault, e.g. '$filter'. */
  readonly option: ODataOption;
  /** 0-based character offset into the option's value, when the error has a place. */
  readonly position: number | undefined;

  /**
   * The message reads `${option}: ${detail} at position ${position}` (the position part only when there is
   * one), followed by `; ${hint}` when a hint is given.
   */
  constructor(option: ODataOption, detail: string, position?: number, hint?: string) {
    const where = position === undefined ? '' : ` at position ${position}`;
    super('InvalidParameter', `${option}: ${detail}${where}${hint ? `; ${hint}` : ''}`, option);
    this.name = 'ODataError';
    this.option = option;
    this.position = position;
  }
}
