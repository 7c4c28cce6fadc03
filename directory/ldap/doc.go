// Package ldap is a read-only LDAP v3 server for the phone books of desk
// phones and DECT bases. Each tenant's phone book is its own small tree:
//
//	o=<tenant>                               the tenant (organization)
//	  ou=phonebook,o=<tenant>                the phone book (organizationalUnit)
//	    uid=<kind>-<id>,ou=phonebook,o=<tenant>   one person or service (inetOrgPerson)
//
// Phones bind as cn=phonebook,o=<tenant> with the tenant's phone-book
// password and search under o=<tenant> or ou=phonebook,o=<tenant>; they
// only ever see their own tenant. Filters are evaluated in memory with
// Norwegian folding for names and digit matching for numbers. The protocol
// is implemented here on go-asn1-ber, not on gldap: gldap cannot serve a
// given listener, does not expose the peer address (needed for the bind
// lock-out and logs) and its Stop waits for idle clients to hang up. See
// docs/phonebook-ldap.md.
package ldap
