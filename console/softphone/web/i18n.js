// Strings of the softphone page in Norwegian Bokmål (nb) and English (en).
// Elements carry data-i18n="key" (text), data-i18n-label="key"
// (aria-label) or data-i18n-placeholder="key"; apply() fills them in.

export const strings = {
  nb: {
    title: 'Sentral – nettelefon',
    heading: 'Nettelefon',
    switchLanguage: 'English',
    switchLanguageLabel: 'Switch to English',
    loginHeading: 'Logg inn',
    extension: 'Internnummer',
    password: 'Passord',
    domain: 'SIP-domene',
    domainHelp: 'Bedriftens SIP-domene, for eksempel firma.sentral.no. Spør IT om du er usikker.',
    login: 'Logg inn',
    logout: 'Logg ut',
    loggedInAs: 'Innlogget som {who}',
    number: 'Nummer',
    call: 'Ring',
    keypad: 'Tastatur',
    backspace: 'Slett siste siffer',
    incomingHeading: 'Innkommende anrop',
    incomingFrom: 'Anrop fra {who}',
    answer: 'Svar',
    reject: 'Avvis',
    hangup: 'Legg på',
    cancel: 'Avbryt',
    mute: 'Demp mikrofon',
    unmute: 'Slå på mikrofon',
    hold: 'Sett på vent',
    resume: 'Gjenoppta',
    transferTo: 'Sett over til',
    transfer: 'Sett over',
    callHeading: 'Samtale',
    historyHeading: 'Anropslogg',
    historyEmpty: 'Ingen anrop ennå.',
    historyClear: 'Tøm anropsloggen',
    callBack: 'Ring tilbake',
    callBackLabel: 'Ring tilbake til {who}',
    dirOut: 'Utgående',
    dirIn: 'Innkommende',
    dirMissed: 'Ubesvart',
    duration: '{d}',
    notAnswered: 'ikke besvart',
    licences: 'Lisenser for tredjepartsprogramvare',
    // status line
    loadingConfig: 'Henter innstillinger …',
    configFailed: 'Klarte ikke å hente innstillingene: {reason}',
    noWebSocket: 'Serveren har ingen WebSocket-lytter for nettelefoner. Kontakt IT.',
    ready: 'Logg inn med internnummer og passord.',
    connecting: 'Kobler til {url} …',
    registering: 'Registrerer …',
    registered: 'Registrert som {who}',
    registrationFailed: 'Registrering feilet: {reason}',
    unregistered: 'Ikke registrert',
    disconnected: 'Forbindelsen til serveren er brutt – prøver igjen …',
    loggedOut: 'Logget ut.',
    calling: 'Ringer {who} …',
    ringing: 'Det ringer hos {who} …',
    incoming: 'Anrop fra {who}',
    inCall: 'I samtale med {who}',
    onHold: '{who} er satt på vent',
    heldByRemote: '{who} har satt deg på vent',
    callEnded: 'Samtalen med {who} er avsluttet',
    callFailed: 'Anropet til {who} feilet: {reason}',
    missed: 'Ubesvart anrop fra {who}',
    transferring: 'Setter over til {who} …',
    transferred: 'Satt over til {who}',
    transferFailed: 'Overføringen feilet: {reason}',
    dtmfSent: 'Sendte tone {tone}',
    emptyNumber: 'Skriv inn et nummer først.',
    fieldsMissing: 'Fyll inn internnummer, passord og domene.',
    noMicrophone: 'Fikk ikke tilgang til mikrofonen: {reason}',
    insecure: 'Siden må åpnes over HTTPS for å få tilgang til mikrofonen.',
    // causes
    'cause:Busy': 'opptatt',
    'cause:Rejected': 'avvist',
    'cause:Redirected': 'viderekoblet',
    'cause:Unavailable': 'ikke tilgjengelig',
    'cause:Not Found': 'nummeret finnes ikke',
    'cause:Address Incomplete': 'ufullstendig nummer',
    'cause:Incompatible SDP': 'lydformatet støttes ikke',
    'cause:Missing SDP': 'mangler lydbeskrivelse',
    'cause:Authentication Error': 'feil internnummer eller passord',
    'cause:Connection Error': 'ingen forbindelse til serveren',
    'cause:Request Timeout': 'serveren svarte ikke',
    'cause:SIP Failure Code': 'feil fra serveren',
    'cause:Internal Error': 'intern feil',
    'cause:No Answer': 'ingen svar',
    'cause:Expires': 'ingen svar',
    'cause:Canceled': 'avbrutt',
    'cause:No ACK': 'samtalen ble ikke bekreftet',
    'cause:Dialog Error': 'samtalefeil',
    'cause:User Denied Media Access': 'mikrofonen er ikke tillatt',
    'cause:WebRTC Error': 'WebRTC-feil',
    'cause:RTP Timeout': 'lyden forsvant',
    'cause:Bad Media Description': 'ugyldig lydbeskrivelse',
  },
  en: {
    title: 'Sentral – web phone',
    heading: 'Web phone',
    switchLanguage: 'Norsk',
    switchLanguageLabel: 'Bytt til norsk',
    loginHeading: 'Log in',
    extension: 'Extension',
    password: 'Password',
    domain: 'SIP domain',
    domainHelp: "Your company's SIP domain, for example company.sentral.no. Ask IT if unsure.",
    login: 'Log in',
    logout: 'Log out',
    loggedInAs: 'Logged in as {who}',
    number: 'Number',
    call: 'Call',
    keypad: 'Keypad',
    backspace: 'Delete last digit',
    incomingHeading: 'Incoming call',
    incomingFrom: 'Call from {who}',
    answer: 'Answer',
    reject: 'Reject',
    hangup: 'Hang up',
    cancel: 'Cancel',
    mute: 'Mute microphone',
    unmute: 'Unmute microphone',
    hold: 'Hold',
    resume: 'Resume',
    transferTo: 'Transfer to',
    transfer: 'Transfer',
    callHeading: 'Call',
    historyHeading: 'Call history',
    historyEmpty: 'No calls yet.',
    historyClear: 'Clear call history',
    callBack: 'Call back',
    callBackLabel: 'Call back {who}',
    dirOut: 'Outgoing',
    dirIn: 'Incoming',
    dirMissed: 'Missed',
    duration: '{d}',
    notAnswered: 'not answered',
    licences: 'Third-party software licences',
    loadingConfig: 'Loading settings …',
    configFailed: 'Could not load the settings: {reason}',
    noWebSocket: 'The server has no WebSocket listener for web phones. Contact IT.',
    ready: 'Log in with your extension and password.',
    connecting: 'Connecting to {url} …',
    registering: 'Registering …',
    registered: 'Registered as {who}',
    registrationFailed: 'Registration failed: {reason}',
    unregistered: 'Not registered',
    disconnected: 'Lost the connection to the server – retrying …',
    loggedOut: 'Logged out.',
    calling: 'Calling {who} …',
    ringing: 'Ringing {who} …',
    incoming: 'Call from {who}',
    inCall: 'In a call with {who}',
    onHold: '{who} is on hold',
    heldByRemote: '{who} has put you on hold',
    callEnded: 'The call with {who} has ended',
    callFailed: 'The call to {who} failed: {reason}',
    missed: 'Missed call from {who}',
    transferring: 'Transferring to {who} …',
    transferred: 'Transferred to {who}',
    transferFailed: 'The transfer failed: {reason}',
    dtmfSent: 'Sent tone {tone}',
    emptyNumber: 'Enter a number first.',
    fieldsMissing: 'Fill in extension, password and domain.',
    noMicrophone: 'No access to the microphone: {reason}',
    insecure: 'Open this page over HTTPS to use the microphone.',
    'cause:Busy': 'busy',
    'cause:Rejected': 'rejected',
    'cause:Redirected': 'redirected',
    'cause:Unavailable': 'unavailable',
    'cause:Not Found': 'no such number',
    'cause:Address Incomplete': 'incomplete number',
    'cause:Incompatible SDP': 'audio format not supported',
    'cause:Missing SDP': 'no media description',
    'cause:Authentication Error': 'wrong extension or password',
    'cause:Connection Error': 'no connection to the server',
    'cause:Request Timeout': 'the server did not answer',
    'cause:SIP Failure Code': 'error from the server',
    'cause:Internal Error': 'internal error',
    'cause:No Answer': 'no answer',
    'cause:Expires': 'no answer',
    'cause:Canceled': 'cancelled',
    'cause:No ACK': 'the call was not confirmed',
    'cause:Dialog Error': 'call error',
    'cause:User Denied Media Access': 'microphone not allowed',
    'cause:WebRTC Error': 'WebRTC error',
    'cause:RTP Timeout': 'the audio stopped',
    'cause:Bad Media Description': 'invalid media description',
  },
};

// pickLanguage chooses nb for Norwegian browsers (nb, no, nn), else en.
export function pickLanguage(stored, navigatorLanguages) {
  if (stored === 'nb' || stored === 'en') {
    return stored;
  }
  for (const l of navigatorLanguages || []) {
    const p = String(l).toLowerCase().split('-')[0];
    if (p === 'nb' || p === 'no' || p === 'nn') {
      return 'nb';
    }
    if (p === 'en') {
      return 'en';
    }
  }
  return 'en';
}

// translator returns t(key, vars) for one language, falling back to
// English and then to the key itself.
export function translator(lang) {
  const dict = strings[lang] || strings.en;
  return (key, vars) => {
    let s = dict[key] ?? strings.en[key] ?? key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    }
    return s;
  };
}

// apply fills in the page's static strings.
export function apply(root, t) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) {
    el.setAttribute('title', t(el.dataset.i18nTitle));
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  }
}
