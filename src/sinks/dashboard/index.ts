export { renderDashboards, type RenderDashboardsOptions } from './renderDashboards.js';
