export { renderReport, type ReportInput, type FeatureLogDensity } from './renderReport.js';
export { reportSink, type ReportSink, type ReportSinkOptions } from './reportSink.js';
export { writeReport, readRecords, type WriteReportOptions } from './writeReport.js';
