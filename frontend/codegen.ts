import type { CodegenConfig } from '@graphql-codegen/cli';
// The schema is generated from the Rust code; the front end is typed from it so
// that a schema change that breaks an operation fails `npm run build`.
// DXDESK_SCHEMA may point elsewhere while developing against a schema in progress.
const schema = process.env.DXDESK_SCHEMA ?? '../schema/schema.graphql';

const config: CodegenConfig = {
  schema,
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSON: 'unknown', UUID: 'string' },
        strictScalars: false,
      },
    },
  },
};
export default config;
