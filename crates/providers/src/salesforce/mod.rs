//! Salesforce: Contact, Account and Opportunity over REST (SOQL reads, sObject Collections writes).

pub mod auth;

pub use auth::SalesforceAuth;
