import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { outputsConformance } from './outputs-conformance.js';

outputsConformance('sqlite', () => openSqliteOnTempDir('kindred-outputs-'));
outputsConformance('sqlite, queries in reader threads', () => openSqliteOnTempDir('kindred-outputs-', { readerThreads: 1 }));
outputsConformance('sqlite, generations loaded in a thread', () => openSqliteOnTempDir('kindred-outputs-', { generationLoading: 'thread' }));
