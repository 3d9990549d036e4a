export * from './selectBackend.js';
