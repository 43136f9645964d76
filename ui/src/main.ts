import { mount } from "svelte";
import "leaflet/dist/leaflet.css";
import "./app.css";
import App from "./App.svelte";
import { lang } from "./i18n/index.svelte";

document.documentElement.lang = lang();
const app = mount(App, { target: document.getElementById("app")! });
export default app;
