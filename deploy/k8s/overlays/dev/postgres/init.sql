-- One database per service: a service never reads another's.
CREATE DATABASE auth;
CREATE DATABASE tasks;
CREATE DATABASE messaging;
