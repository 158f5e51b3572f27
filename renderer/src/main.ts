import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { APP_CONTEXT, ShoeboxApp } from './lib/app.svelte.js';
import { connectApi } from './lib/transport/index.js';

const target = document.getElementById('app');
if (!target) throw new Error('#app missing from index.html');

const app = new ShoeboxApp(connectApi());
mount(App, { target, context: new Map([[APP_CONTEXT, app]]) });
