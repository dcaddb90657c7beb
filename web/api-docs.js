// The API reference page (/docs/api): Swagger UI (bundled into the binary from the npm package
// swagger-ui-dist, no CDN) renders the contract the server serves at /api/v1/openapi.json.
// An external script, not an inline one: the CSP is default-src 'self'.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // No online validator badge (it would call validator.swagger.io).
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
});
