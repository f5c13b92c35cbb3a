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
	var send = GraphiQL.createFetcher({
		url: new URL(config.endpoint, window.location.href).href,
		enableIncrementalDelivery: false,
	});

	// When callers must authenticate (the server set keyPlaceholder), the
	// key is what the Authorization header holds, once it is neither empty
	// nor the placeholder. headers is the Headers editor's JSON, as text or
	// parsed.
	function keyOf(headers) {
		if (typeof headers === 'string') {
			try {
				headers = JSON.parse(headers || '{}');
			} catch (e) {
				return '';
			}
		}
		if (!headers || typeof headers !== 'object') {
			return '';
		}
		for (var name in headers) {
			if (name.toLowerCase() !== 'authorization') {
				continue;
			}
			var m = /^\s*Bearer\s+(\S+)\s*$/i.exec(String(headers[name]));
			if (m && m[1] !== config.keyPlaceholder) {
				return m[1];
			}
		}
		return '';
	}

	// Until a key is typed, nothing is sent: the result pane (and Docs)
	// say where the key goes instead of showing a 401 for the placeholder.
	var noKey = {
		errors: [{
			message: 'Type your API key in the Headers editor below, in place of ' + config.keyPlaceholder +
				'. The playground sends nothing to dirgate until you do; then it loads the schema (Docs, completion).',
			extensions: { code: 'UNAUTHENTICATED' },
		}],
	};

	function fetcher() {
		return function (params, opts) {
			if (config.keyPlaceholder && !keyOf(opts && opts.headers)) {
				return Promise.resolve(noKey);
			}
			return send(params, opts);
		};
	}

	var root = ReactDOM.createRoot(document.getElementById('graphiql'));
	var current = { fetcher: fetcher(), key: keyOf(config.defaultHeaders || '') };
	var timer = null;

	// A new fetcher makes GraphiQL fetch the schema again, with the headers
	// the editor holds then: so Docs and completion follow the key.
	function onEditHeaders(text) {
		if (!config.keyPlaceholder) {
			return;
		}
		clearTimeout(timer);
		timer = setTimeout(function () {
			var key = keyOf(text);
			if (key !== current.key) {
				current = { fetcher: fetcher(), key: key };
				render();
			}
		}, 400); // once the typing pauses
	}

	function render() {
		root.render(React.createElement(GraphiQL, {
			fetcher: current.fetcher,
			defaultTabs: [tab],
			defaultQuery: config.defaultQuery,
			defaultHeaders: config.defaultHeaders || undefined,
			isHeadersEditorEnabled: true,
			onEditHeaders: onEditHeaders,
			// An API key typed into the headers editor stays in this tab only.
			shouldPersistHeaders: false,
			defaultEditorToolsVisibility: config.defaultHeaders ? 'headers' : 'variables',
		}));
	}
	render();
})();
