import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { uiSubportConformance } from './ui-conformance.js';

uiSubportConformance('sqlite', () => openSqliteOnTempDir('kindred-ui-store-'));
