// dirgate's playground: starts GraphiQL (loaded by the page from the
// embedded, vendored assets) with the settings the server put in the page.
// This file exists so that the page needs no inline script: its
// Content-Security-Policy allows scripts from its own origin only.
(function () {
	'use strict';

	// GraphiQL's dialogs lock scrolling with react-remove-scroll, which adds a
	// <style> element tagged with this global's value. The page's CSP allows
	// styles from its own origin plus that one nonce, which the server made
	// for this response and gave this script tag.
	window.__webpack_nonce__ = document.currentScript.nonce;

	var config = JSON.parse(document.getElementById('playground-config').textContent);
	var tab = { query: config.defaultQuery };
	if (config.defaultHeaders) {
		tab.headers = config.defaultHeaders;
	}
	var fetcher = GraphiQL.createFetcher({
		url: new URL(config.endpoint, window.location.href).href,
		enableIncrementalDelivery: false,
	});

	ReactDOM.createRoot(document.getElementById('graphiql')).render(
		React.createElement(GraphiQL, {
			fetcher: fetcher,
			defaultTabs: [tab],
			defaultQuery: config.defaultQuery,
			defaultHeaders: config.defaultHeaders || undefined,
			isHeadersEditorEnabled: true,
			// An API key typed into the headers editor stays in this tab only.
			shouldPersistHeaders: false,
			defaultEditorToolsVisibility: config.defaultHeaders ? 'headers' : 'variables',
		}),
	);
})();
