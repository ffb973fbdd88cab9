import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // Preact's React-compatible runtime in the browser: 4 KB where React 19 is
  // 58 KB (brotli), which alone would exceed the public pages' 60 KB budget.
  // The code and its types stay React's; `npm test` runs against the same alias.
  resolve: {
    alias: {
      react: 'preact/compat',
      'react-dom/client': 'preact/compat/client',
      'react-dom': 'preact/compat',
      'react/jsx-runtime': 'preact/jsx-runtime',
      'react/jsx-dev-runtime': 'preact/jsx-dev-runtime',
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // keep every asset a file: the CSP allows no inline script or style
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/graphql': 'http://127.0.0.1:8080', '/api': 'http://127.0.0.1:8080' },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
