// The one npm module the page uses: JsSIP, bundled by esbuild into
// ../assets/jssip.js (`npm run build`, or scripts/softphone.sh), an ES
// module whose default export is the JsSIP namespace.
import JsSIP from 'jssip';

export default JsSIP;
