import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by the API at /dashboard/ (chalicelib/http/dashboard.py), same origin.
export default defineConfig({
  base: "/dashboard/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0, // no data: URIs; everything is a file under the CSP's 'self'
    sourcemap: false,
    modulePreload: { polyfill: false }, // no inline script of any kind
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/admin": "http://127.0.0.1:8000", "/internal": "http://127.0.0.1:8000" } },
});
