// OData query options for the data API: parsing ($filter and the rest) and compiling to SQL.
export * from './errors.js';
export * from './filter.js';
export * from './options.js';
export * from './sql.js';
