import { mount } from 'svelte';
import App from './App.svelte';
import { albums } from './lib/albums.svelte.js';
import { gallery } from './lib/gallery.svelte.js';
import { session } from './lib/session.svelte.js';
import { toasts } from './lib/toasts.svelte.js';
import { uploads } from './lib/uploads.svelte.js';
import { usage } from './lib/usage.svelte.js';
import './styles/app.css';

// What one person loaded is dropped the moment their session ends, before anyone else signs in.
session.onEnd(() => {
  uploads.reset();
  gallery.reset();
  albums.reset();
  usage.clear();
  toasts.clear();
});

uploads.onUploaded((photos) => {
  gallery.add(photos);
  usage.refresh();
});

const target = document.getElementById('app');
if (target) mount(App, { target });
